import type { Platform } from '../../platform.js';
import type { DbOrTx } from '../../db/client.js';
import { queryRows } from '../../db/raw.js';
import { hmacSha256Hex } from '../../lib/crypto.js';
import { newId } from '../../lib/ids.js';
import type { DataKeys, PlainCode } from './data-keys.js';
import type { CodeState } from './code-state.js';

export interface CodeToStore extends PlainCode {
  expiresAt?: Date | null;
  /** the keyed hash of the secret, when the caller already has it */
  hmac?: string;
}

export interface PreparedCodes {
  ids: string[];
  sealed: string[];
  hmacs: string[];
  last4: string[];
  expires: (string | null)[];
}

/** The CPU half of storing codes (ids, sealing, hashes), done while the previous chunk is being written. */
export function prepareCodes(p: Platform, keys: DataKeys, dataKey: Buffer, chunk: CodeToStore[], defaultExpiresAt?: Date | null): PreparedCodes {
  const now = p.clock.now();
  const out: PreparedCodes = { ids: [], sealed: [], hmacs: [], last4: [], expires: [] };
  for (const c of chunk) {
    const id = newId('cod', now);
    out.ids.push(id);
    out.sealed.push(keys.seal(dataKey, id, c).toString('base64'));
    out.hmacs.push(c.hmac ?? secretHmac(p.hmacKey, c.secret));
    out.last4.push(visibleTail(c.secret));
    const e = c.expiresAt ?? defaultExpiresAt ?? null;
    out.expires.push(e ? e.toISOString() : null);
  }
  return out;
}

/**
 * Writes a chunk of codes in one statement: one array parameter per column
 * (INSERT ... SELECT FROM unnest(...)), the same on PGlite and PostgreSQL.
 * A secret already in the vault (same keyed hash) is skipped by the unique
 * index (also a secret repeated within the chunk), and the caller learns
 * which rows were skipped from the ids not returned.
 */
export async function insertPrepared(p: Platform, db: DbOrTx, target: { batchId: string; skuId: string; state: CodeState }, c: PreparedCodes): Promise<Set<string>> {
  const rows = await queryRows<{ id: string }>(
    db,
    `insert into codes (id, batch_id, sku_id, sealed, secret_hmac, last4, state, expires_at, created_at)
     select u.id, $1, $2, decode(u.sealed, 'base64'), u.hmac, u.last4, $3, u.expires::timestamptz, $4
     from unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[]) as u(id, sealed, hmac, last4, expires)
     on conflict (secret_hmac) do nothing
     returning id`,
    [target.batchId, target.skuId, target.state, p.clock.now().toISOString(), c.ids, c.sealed, c.hmacs, c.last4, c.expires],
  );
  return new Set(rows.map((r) => r.id));
}

/** The keyed hash that identifies a secret without revealing it. */
export function secretHmac(hmacKey: Buffer, secret: string): string {
  return hmacSha256Hex(hmacKey, `code:${secret.trim()}`);
}

/**
 * The tail shown in masked views: the last 4 characters of a secret of 8 or
 * more, fewer for shorter ones, so a masked view never shows most of a secret.
 */
export function visibleTail(secret: string): string {
  if (secret.length >= 8) return secret.slice(-4);
  if (secret.length >= 6) return secret.slice(-2);
  return '';
}
