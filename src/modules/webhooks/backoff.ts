import { DAY, HOUR, MINUTE, SECOND } from '../../lib/clock.js';

/**
 * After the n-th failed attempt the next one waits RETRY_DELAYS[n-1] (the
 * last entry repeats), give or take 20 % so that many deliveries failing
 * together (a receiver's outage) do not all come back in the same second.
 * Roughly 30 s, 2 min, 10 min, 1 h, 3 h, 6 h, then every 12 h: about a dozen
 * attempts before the event is RETRY_WINDOW_MS old and the delivery is dead.
 */
export const RETRY_DELAYS_MS = [30 * SECOND, 2 * MINUTE, 10 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR] as const;
export const RETRY_WINDOW_MS = 3 * DAY;
export const JITTER = 0.2;

export function retryDelayMs(failedAttempts: number, random: () => number = Math.random): number {
  const base = RETRY_DELAYS_MS[Math.min(Math.max(failedAttempts, 1), RETRY_DELAYS_MS.length) - 1]!;
  return Math.round(base * (1 - JITTER + 2 * JITTER * random()));
}

/**
 * When to try again after a failure, or null when the next try would fall
 * after the retry window of the event (the delivery is then dead).
 */
export function nextAttemptAt(now: Date, failedAttempts: number, eventCreatedAt: Date, random?: () => number): Date | null {
  const next = new Date(now.getTime() + retryDelayMs(failedAttempts, random));
  return next.getTime() > eventCreatedAt.getTime() + RETRY_WINDOW_MS ? null : next;
}
