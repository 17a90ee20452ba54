import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Platform } from '../../platform.js';
import { AppError } from '../../lib/errors.js';
import type { AlertService } from '../alerts/service.js';
import type { StoreStaffPrincipal } from './service.js';

export interface StaffLockoutSettings {
  failuresPerStaff: number;
  failuresPerStore: number;
  windowSeconds: number;
}

/** Refusals that say "no such code here": what a guesser with a stolen staff key mostly gets. Real codes of this merchant (used, expired…) and expired QR tokens (signed, so real) are business as usual. */
const GUESS_REASONS = new Set(['UNKNOWN_CODE', 'QR_INVALID', 'NOT_ACCEPTED_HERE']);

export function isFailedLookup(err: unknown): string | null {
  if (!(err instanceof AppError)) return null;
  const reason = (err.details as { reason?: unknown } | null)?.reason;
  return typeof reason === 'string' && GUESS_REASONS.has(reason) ? reason : null;
}

/**
 * Staff verify and redeem are a code oracle: failed lookups are limited per
 * staff member and per store in a fixed window (rate-limiter-flexible on the
 * key-value store: Redis when REDIS_URL, memory otherwise). Every attempt
 * takes a point BEFORE the lookup and gives it back unless it failed, so
 * parallel guesses cannot all slip past a check made before any of them
 * counted: at most `failures` lookups are in flight or failed per window.
 * Once the points are gone the routes answer 429 without looking; the first
 * lockout in a window raises an alert (admin chat too).
 */
export function createStaffLockout(p: Platform, deps: { alerts: AlertService }, s: StaffLockoutSettings) {
  const byStaff = p.kv.rateLimiter({ keyPrefix: 'staffverify:staff', points: s.failuresPerStaff, durationSeconds: s.windowSeconds });
  const byStore = p.kv.rateLimiter({ keyPrefix: 'staffverify:store', points: s.failuresPerStore, durationSeconds: s.windowSeconds });
  const dims = (staff: StoreStaffPrincipal) =>
    [
      { limiter: byStaff, key: staff.staffId, subjectType: 'store_staff', points: s.failuresPerStaff },
      { limiter: byStore, key: staff.storeId, subjectType: 'store', points: s.failuresPerStore },
    ] as const;

  const locked = (res: RateLimiterRes) => {
    const retry = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
    return new AppError('RATE_LIMITED', 'too many codes not found at this store; try again later', { retry_after_seconds: retry }, { 'retry-after': String(retry) });
  };

  async function alert(staff: StoreStaffPrincipal, d: ReturnType<typeof dims>[number], reason: string) {
    // Once per subject and window, or a guessing script would fill the admin chat.
    if (!(await p.kv.setIfAbsent(`staffverify:alerted:${d.subjectType}:${d.key}`, '1', s.windowSeconds * 1000))) return;
    await deps.alerts.raise({
      kind: 'risk',
      subjectType: d.subjectType,
      subjectId: d.key,
      severity: 'critical',
      message: `Code verification locked for ${d.subjectType} ${d.key}: ${d.points} failed lookups in ${s.windowSeconds} s (staff ${staff.staffId}, store ${staff.storeId}); a staff key may be used to guess codes`,
      details: { staff_id: staff.staffId, store_id: staff.storeId, merchant_id: staff.merchantId, failures: d.points, window_seconds: s.windowSeconds, last_reason: reason },
      notify: true,
    });
  }

  /** Runs one lookup under the limit: 429 before it when locked; its point is kept only when it failed as a guess. */
  async function guard<T>(staff: StoreStaffPrincipal, lookup: () => Promise<T>, failedReason: (result: T) => string | null): Promise<T> {
    const taken: { d: ReturnType<typeof dims>[number]; res: RateLimiterRes }[] = [];
    const giveBack = () => Promise.all(taken.map((t) => t.d.limiter.reward(t.d.key, 1)));
    for (const d of dims(staff)) {
      try {
        taken.push({ d, res: await d.limiter.consume(d.key) });
      } catch (e) {
        await giveBack();
        if (e instanceof RateLimiterRes) {
          await d.limiter.reward(d.key, 1); // the refused attempt is not a failure either
          throw locked(e);
        }
        throw e;
      }
    }
    let reason: string | null;
    let result: T;
    try {
      result = await lookup();
      reason = failedReason(result);
    } catch (err) {
      reason = isFailedLookup(err);
      if (!reason) await giveBack();
      else await lockedNow(staff, taken, reason);
      throw err;
    }
    if (!reason) await giveBack();
    else await lockedNow(staff, taken, reason);
    return result;
  }

  async function lockedNow(staff: StoreStaffPrincipal, taken: { d: ReturnType<typeof dims>[number]; res: RateLimiterRes }[], reason: string) {
    // An alert that cannot be raised must not change the staff member's answer.
    for (const t of taken) if (t.res.remainingPoints === 0) await alert(staff, t.d, reason).catch((err: unknown) => p.logger.error({ err }, 'staff verify lockout alert failed'));
  }

  return { guard };
}

export type StaffLockout = ReturnType<typeof createStaffLockout>;
