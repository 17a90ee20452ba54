import { createChallenge, extractParams, verifySolution } from 'altcha-lib/v1';
import type { Challenge } from 'altcha-lib/v1/types';
import type { KeyValueStore } from '../../kv/index.js';
import type { Clock } from '../../lib/clock.js';

/**
 * ALTCHA proof-of-work captcha: the server signs a challenge (HMAC), the
 * client's widget finds the number, the server checks the signature and the
 * work. Expiry is checked against platform.clock (not the library's own
 * Date.now) and each solved challenge is accepted once: its challenge hash
 * is remembered in the key-value store until it would have expired anyway.
 */
export interface CaptchaOptions {
  hmacKey: string;
  ttlMs: number;
  /** Work factor: the client tries up to this many numbers (half on average). */
  maxNumber: number;
}

export type CaptchaCheck = 'passed' | 'invalid' | 'expired' | 'reused';

export function createCaptcha(kv: KeyValueStore, clock: Clock, o: CaptchaOptions) {
  async function issue(): Promise<Challenge & { expires_at: string }> {
    const expires = new Date(clock.now().getTime() + o.ttlMs);
    const c = await createChallenge({ hmacKey: o.hmacKey, maxnumber: o.maxNumber, expires });
    return { ...c, expires_at: expires.toISOString() };
  }

  /** Checks a solution (the base64 payload the widget produces) and spends it. */
  async function redeem(payload: string): Promise<CaptchaCheck> {
    let decoded: { challenge?: unknown; salt?: unknown };
    try {
      decoded = JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as typeof decoded;
    } catch {
      return 'invalid';
    }
    if (typeof decoded.challenge !== 'string' || typeof decoded.salt !== 'string') return 'invalid';
    let ok = false;
    try {
      ok = await verifySolution(payload, o.hmacKey, false);
    } catch {
      ok = false;
    }
    if (!ok) return 'invalid';
    const expiresSec = Number(extractParams(payload).expires);
    const left = expiresSec * 1000 - clock.now().getTime();
    if (!Number.isFinite(left) || left <= 0) return 'expired';
    return (await kv.setIfAbsent(`risk:captcha:${decoded.challenge}`, '1', left + 1000)) ? 'passed' : 'reused';
  }

  return { issue, redeem };
}

export type Captcha = ReturnType<typeof createCaptcha>;
