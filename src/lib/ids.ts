import { randomBytes, randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';

// ulid draws one random byte per character; asking the OS for each byte separately was a visible share of
// the CPU of every sale, so the bytes come from a pooled buffer of the same cryptographic randomness.
const pool = Buffer.alloc(4096);
let poolAt = pool.length;
const pooledRandom = () => {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  return pool[poolAt++]! / 256;
};
const nextUlid = monotonicFactory(pooledRandom);

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
