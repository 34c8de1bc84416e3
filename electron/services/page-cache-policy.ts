/**
 * How much memory the encrypted cache's SQLite page cache may hold (IT's
 * policy `cachePageCacheMiB`): its bounds and default (chosen from the scale
 * benchmark: README "Page cache and memory"), the value IT's policy sets, and
 * the one this process opens caches with. Every page-cache miss decrypts
 * and checks a page, so a larger cache makes reads faster at about 1 MB of
 * memory per MiB. Pure, apart from that one process-wide value, which main
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
 * 32 MiB: keeps the app under 300 MB, with a margin, through a full panel's
 * first sync now that WAL checkpoints run on a thread of their own
 * (./store/store-checkpointer.ts, 20 to 25 MB: a V8 isolate and a second
 * connection). At 48 MiB the bench's device peaked at 313 MB with it (288
 * without); each MiB costs about 1.1 MB, so 32 MiB comes to about 295. At 1M resources the working set
 * fits in no cache this budget allows, and chart opens hardly follow the
 * size: p95 13.8 to 17.2 ms at 32 MiB and 12.3 to 14.7 at 64 in three full
 * runs' sizing, 15.9 and 16.2 at 48 in two runs' chart stage.
 */
export const PAGE_CACHE_MIB_DEFAULT = 32;
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
