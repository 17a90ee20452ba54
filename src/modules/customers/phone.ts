import type { Platform } from '../../platform.js';
import { hmacSha256Hex } from '../../lib/crypto.js';
import { maskPhone } from '../../lib/mask.js';

/**
 * How a phone number is kept wherever the platform stores one (customers,
 * agent applications): sealed with the master key ring, found through a
 * keyed hash, shown masked. One place, so the same phone hashes the same in
 * every table and a match across them (self-referral checks) works.
 */
export const PHONE_PATTERN = /^\+?\d{7,15}$/;

/** The phone without spaces and dashes, or null when it is not a phone number. */
export function normalizePhone(raw: string): string | null {
  const s = raw.replace(/[\s-]/g, '');
  return PHONE_PATTERN.test(s) ? s : null;
}

export function phoneHash(p: Pick<Platform, 'hmacKey'>, phone: string): string {
  return hmacSha256Hex(p.hmacKey, `phone:${phone}`);
}

export interface SealedPhone {
  sealed: Buffer;
  keyId: string;
  hash: string;
  masked: string;
}

/** `aad` ties the sealed bytes to their row (a customer id, an application id). */
export function sealPhone(p: Pick<Platform, 'hmacKey' | 'keyRing'>, phone: string, aad: string): SealedPhone {
  const { sealed, keyId } = p.keyRing.wrap(Buffer.from(phone), aad);
  return { sealed, keyId, hash: phoneHash(p, phone), masked: maskPhone(phone) };
}
