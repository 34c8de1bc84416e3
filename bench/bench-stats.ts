/** Timing helpers for the benchmarks: medians and p95s of samples in milliseconds, and after/before ratios. */
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

export function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return round(s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2, 4);
}

/** The after/before ratio of two medians (1.00: no cost; 1.10: 10 % slower); null without a baseline. */
export function ratio(after: number | undefined, before: number | undefined): number | null {
  return after === undefined || before === undefined || before === 0 ? null : round(after / before, 3);
}

/** The ratio of a figure measured on both backends: `{ before: { median_s }, after: { median_s } }`. */
export function compare(figure: { before?: { median_s: number }; after?: { median_s: number } }): { ratio_after_to_before: number | null } {
  return { ratio_after_to_before: ratio(figure.after?.median_s, figure.before?.median_s) };
}
