import { hmacSha256Hex, safeEqual } from '../../lib/crypto.js';

/**
 * The token a code's owner shows as a QR code at the store instead of the
 * code itself: "KQR1.<token id>.<expiry, unix seconds>.<signature>". The
 * signature (HMAC with the installation's key) lets a forged or altered token
 * be refused without a database read; the token row (by id) makes it single
 * use. It carries no part of the code's secret.
 */
export const QR_PREFIX = 'KQR1.';
export const QR_TTL_MS = 5 * 60_000;

const signature = (key: Buffer | string, id: string, exp: number) => hmacSha256Hex(key, `redemption-qr:${id}.${exp}`).slice(0, 32);

export function signQrToken(key: Buffer | string, id: string, expiresAt: Date): string {
  const exp = Math.floor(expiresAt.getTime() / 1000);
  return `${QR_PREFIX}${id}.${exp}.${signature(key, id, exp)}`;
}

export const looksLikeQrToken = (input: string) => input.startsWith(QR_PREFIX);

export type QrCheck = { ok: true; id: string; expiresAt: Date } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

/** Checks form, signature and expiry; whether it was used already is the database's to say. */
export function checkQrToken(key: Buffer | string, token: string, now: Date): QrCheck {
  const m = /^KQR1\.(rqt_[0-9A-HJKMNP-TV-Z]{26})\.(\d{9,11})\.([0-9a-f]{32})$/.exec(token.trim());
  if (!m) return { ok: false, reason: 'malformed' };
  const [, id, expRaw, sig] = m as unknown as [string, string, string, string];
  const exp = Number(expRaw);
  if (!safeEqual(signature(key, id, exp), sig)) return { ok: false, reason: 'bad_signature' };
  const expiresAt = new Date(exp * 1000);
  if (expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, id, expiresAt };
}
