/**
 * How much memory the encrypted cache's SQLite page cache may hold (IT's
 * policy `cachePageCacheMiB`): its bounds and default (chosen from the scale
 * benchmark: README "Page cache and memory"), the value IT's policy sets, and
 * the one this process opens caches with. Every page-cache miss reads,
 * checks and decrypts a page again; a larger cache holds more at about 1 MB
 * of memory per MiB. Pure, apart from that one process-wide value, which main
 * sets once from machine policy before any cache opens. Never hand SQLite a
 * size outside the bounds or one that is not a whole number (it goes into a
 * PRAGMA's text), and never let a refused policy value through: the default
 * is used and the refusal is a typed error for the log.
 */
import { AppError } from '../../shared/app-error';

/** The policy name (settings-catalogue.ts). */
export const PAGE_CACHE_SETTING = 'cachePageCacheMiB';
export const PAGE_CACHE_MIB_MIN = 8;
export const PAGE_CACHE_MIB_MAX = 256;
/**
 * 16 MiB: with AEGIS-256 pages (./cache-database.ts) a miss costs about
 * what a plaintext read does, so at a full panel (1M resources, a working
 * set no allowed cache holds) the size buys no speed: random reads at 0.85,
 * 0.91, 1.06 and 1.39x plaintext and chart-open p95 11.3, 12.5, 14.8 and
 * 12.5 ms at 8, 32, 64 and 128 MiB in one full run. Memory it does cost
 * (about 1.1 MB per MiB): at 32 MiB the bench's device peaked at 300 MB
 * through the first sync (checkpointer thread included), at the 300 MB
 * line. Fewer decrypted pages held is also less left in freed memory
 * (README "Page cache and memory").
 */
export const PAGE_CACHE_MIB_DEFAULT = 16;
export const PAGE_CACHE_KIB_DEFAULT = PAGE_CACHE_MIB_DEFAULT * 1024;

/** A page cache size SQLite may be given: a whole number of KiB within the bounds. */
export function isPageCacheKiB(kib: unknown): kib is number {
  return typeof kib === 'number' && Number.isSafeInteger(kib) && kib >= PAGE_CACHE_MIB_MIN * 1024 && kib <= PAGE_CACHE_MIB_MAX * 1024;
}

export function pageCacheOutOfBounds(): AppError {
  return new AppError('INVALID_INPUT', `The patient cache's page cache must be a whole number from ${PAGE_CACHE_MIB_MIN} to ${PAGE_CACHE_MIB_MAX} MiB.`);
}

export interface PageCacheChoice {
  mib: number;
  kib: number;
  /** policy: IT's value; default: unset, or IT's value was refused. */
  source: 'policy' | 'default';
  /** IT's value was refused (the setting's problem in words, never the value): the default is used. */
  refused: AppError | null;
}

/** The effective setting as policy/effective-settings.ts resolves it (only what is read here). */
interface ResolvedSetting {
  value: unknown;
  source: string;
  problem: string | null;
}

/**
 * The page cache from effective settings (`effectiveSettings(inputs)`): IT's
 * value when the catalogue accepted it, otherwise the default, with the
 * refusal as a typed error when IT's value was refused.
 */
export function pageCacheOf(settings: ReadonlyMap<string, ResolvedSetting>): PageCacheChoice {
  const fallback = { mib: PAGE_CACHE_MIB_DEFAULT, kib: PAGE_CACHE_KIB_DEFAULT, source: 'default' as const };
  const e = settings.get(PAGE_CACHE_SETTING);
  if (!e) return { ...fallback, refused: null };
  if (e.problem) return { ...fallback, refused: new AppError('INVALID_INPUT', e.problem.slice(0, 300)) };
  if (e.source === 'policy' && typeof e.value === 'number' && isPageCacheKiB(e.value * 1024)) {
    return { mib: e.value, kib: e.value * 1024, source: 'policy', refused: null };
  }
  return { ...fallback, refused: null };
}

let processPageCacheKiB = PAGE_CACHE_KIB_DEFAULT;

/** Main, once at start (from machine policy): every cache this process opens from now on gets this page cache. */
export function usePageCache(choice: PageCacheChoice): void {
  if (!isPageCacheKiB(choice.kib)) throw pageCacheOutOfBounds();
  processPageCacheKiB = choice.kib;
}

/** The page cache, in KiB, that this process opens caches with (the default until main set IT's). */
export function pageCacheKiB(): number {
  return processPageCacheKiB;
}
