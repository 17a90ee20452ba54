/**
 * The ALTCHA v1 proof of work the risk gate asks for (GET /risk/captcha,
 * src/modules/risk/captcha.ts): find the number n <= maxnumber with
 * SHA-256(salt + n) == challenge, then send the widget's payload,
 * base64(JSON {algorithm, challenge, number, salt, signature}), as X-Captcha.
 * Loaded only when the server asks for it, so it stays off the first paint.
 */
import { api } from './api';

export interface AltchaChallenge {
  algorithm: string;
  challenge: string;
  maxnumber?: number;
  salt: string;
  signature: string;
}

/** Digests in flight at once: enough to keep crypto.subtle busy, few enough to report progress often. */
const BATCH = 500;
const enc = new TextEncoder();

async function sha256Hex(text: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(text)));
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/** The number that solves `c`, or null if none up to maxnumber does; `onProgress` gets the share searched (0..1). */
export async function solveChallenge(c: AltchaChallenge, onProgress?: (share: number) => void): Promise<number | null> {
  if (c.algorithm.toUpperCase() !== 'SHA-256') throw new Error(`unsupported captcha algorithm ${c.algorithm}`);
  const max = c.maxnumber ?? 1_000_000;
  const want = c.challenge.toLowerCase();
  for (let start = 0; start <= max; start += BATCH) {
    const end = Math.min(max, start + BATCH - 1);
    const tries: Promise<string>[] = [];
    for (let n = start; n <= end; n++) tries.push(sha256Hex(c.salt + n));
    const hashes = await Promise.all(tries);
    const hit = hashes.indexOf(want);
    if (hit >= 0) return start + hit;
    onProgress?.((end + 1) / (max + 1));
  }
  return null;
}

/** The X-Captcha value, exactly as the ALTCHA widget encodes its solution. */
export function altchaPayload(c: AltchaChallenge, number: number): string {
  return btoa(JSON.stringify({ algorithm: c.algorithm, challenge: c.challenge, number, salt: c.salt, signature: c.signature }));
}

/** Fetches a fresh challenge, solves it and returns the payload for X-Captcha. */
export async function solveCaptcha(onProgress?: (share: number) => void): Promise<string> {
  const c = await api.get<AltchaChallenge>('/risk/captcha');
  const number = await solveChallenge(c, onProgress);
  if (number === null) throw new Error('the captcha has no solution');
  return altchaPayload(c, number);
}
