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
let nextUlid = monotonicFactory(pooledRandom);
let lastMs = 0;

/**
 * Public ids are a short type prefix and a ULID ("cus_01J..."): they sort by
 * creation time (so they serve as pagination cursors) and cannot be guessed
 * or enumerated like serial numbers.
 */
export function newId(prefix: string, at: Date = new Date()): string {
  const ms = at.getTime();
  // Monotonic within a process, so ids made in the same millisecond (or after a small clock step back) still sort in
  // creation order. A clock that goes back by more than a minute is another clock (a test's, a restored machine):
  // ids follow it, so their embedded time stays the time they were made at (retention reads it).
  if (ms < lastMs - 60_000) nextUlid = monotonicFactory(pooledRandom);
  lastMs = ms;
  return `${prefix}_${nextUlid(ms)}`;
}

/** Random token for sessions, nonces and secrets: base64url, `bytes` of entropy. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
