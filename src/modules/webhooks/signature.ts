import { hmacSha256Hex, safeEqual } from '../../lib/crypto.js';

/**
 * Webhook signatures, the receiver's side of the contract:
 *
 *   Kaquan-Webhook-Id:        the event id (evt_…); the same on every retry, so receivers dedupe by it
 *   Kaquan-Webhook-Timestamp: unix seconds when this attempt was signed
 *   Kaquan-Webhook-Signature: v1=<hex HMAC-SHA256(secret, `${id}.${timestamp}.${rawBody}`)>
 *
 * The id and timestamp are inside the MAC so that a captured body cannot be
 * replayed under another id or, past the tolerance window, at all.
 * Several `v1=` entries separated by spaces or commas are accepted, so a
 * future grace period for rotated secrets does not change the header format.
 */
export const WEBHOOK_ID_HEADER = 'kaquan-webhook-id';
export const WEBHOOK_TIMESTAMP_HEADER = 'kaquan-webhook-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'kaquan-webhook-signature';
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function webhookSignature(secret: string, id: string, timestamp: string, rawBody: string): string {
  return hmacSha256Hex(secret, `${id}.${timestamp}.${rawBody}`);
}

/** The three headers of one attempt. */
export function signWebhook(secret: string, id: string, rawBody: string, now: Date): Record<string, string> {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  return {
    'Kaquan-Webhook-Id': id,
    'Kaquan-Webhook-Timestamp': timestamp,
    'Kaquan-Webhook-Signature': `v1=${webhookSignature(secret, id, timestamp, rawBody)}`,
  };
}

export type HeaderBag = Record<string, string | string[] | undefined> | Headers;

export type VerifyResult = { ok: true; id: string; timestamp: number } | { ok: false; reason: string };

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof Headers !== 'undefined' && headers instanceof Headers) return headers.get(name) ?? undefined;
  const bag = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(bag).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : bag[key];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * What a receiver runs on each request, with the body exactly as received
 * (not re-serialised JSON). Refuses a timestamp more than `toleranceSeconds`
 * away from `now` in either direction; deduping by the id is then the
 * receiver's job (a retry or a manual redelivery carries the same id).
 */
export function verifySignature(secret: string, headers: HeaderBag, rawBody: string, now: Date, toleranceSeconds = DEFAULT_TOLERANCE_SECONDS): VerifyResult {
  const id = header(headers, WEBHOOK_ID_HEADER);
  const ts = header(headers, WEBHOOK_TIMESTAMP_HEADER);
  const sig = header(headers, WEBHOOK_SIGNATURE_HEADER);
  if (!id || !ts || !sig) return { ok: false, reason: 'missing Kaquan-Webhook-Id, -Timestamp or -Signature' };
  if (!/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'timestamp is not unix seconds' };
  const timestamp = Number(ts);
  const skew = Math.abs(now.getTime() / 1000 - timestamp);
  if (skew > toleranceSeconds) return { ok: false, reason: `timestamp is ${Math.round(skew)} s away (limit ${toleranceSeconds} s)` };
  const expected = webhookSignature(secret, id, ts, rawBody);
  const given = sig
    .split(/[\s,]+/)
    .filter((s) => s.startsWith('v1='))
    .map((s) => s.slice(3).toLowerCase());
  if (!given.some((g) => safeEqual(expected, g))) return { ok: false, reason: 'signature does not match' };
  return { ok: true, id, timestamp };
}
