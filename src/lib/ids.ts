import { randomBytes } from 'node:crypto';
import { monotonicFactory } from 'ulid';

const nextUlid = monotonicFactory();

/**
 * Public ids are a short type prefix and a ULID ("cus_01J..."): they sort by
 * creation time (so they serve as pagination cursors) and cannot be guessed
 * or enumerated like serial numbers.
 */
export function newId(prefix: string, at: Date = new Date()): string {
  return `${prefix}_${nextUlid(at.getTime())}`;
}

/** Random token for sessions, nonces and secrets: base64url, `bytes` of entropy. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
