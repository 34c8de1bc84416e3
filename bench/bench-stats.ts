/** Timing helpers for the benchmarks: medians and p95s of samples in milliseconds. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  return { p50_ms: +percentile(s, 50).toFixed(4), p95_ms: +percentile(s, 95).toFixed(4), n: s.length };
}

export function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function round(x: number, d = 2): number {
  return +x.toFixed(d);
}
