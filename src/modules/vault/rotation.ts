import type { Platform } from '../../platform.js';
import { queryRows } from '../../db/raw.js';

/**
 * Every column sealed by the master key ring, with the column naming the key
 * that sealed it. The AAD of each is the row id. Rotation is platform-wide
 * key management, so it is the one place that names other modules' tables.
 */
export const sealedColumns = [
  { table: 'code_batches', sealed: 'data_key_sealed', keyId: 'master_key_id' },
  { table: 'staff_users', sealed: 'totp_secret_sealed', keyId: 'totp_key_id' },
  { table: 'api_keys', sealed: 'secret_sealed', keyId: 'secret_key_id' },
  { table: 'customers', sealed: 'phone_sealed', keyId: 'phone_key_id' },
  { table: 'suppliers', sealed: 'credentials_sealed', keyId: 'credentials_key_id' },
  { table: 'webhook_endpoints', sealed: 'secret_sealed', keyId: 'secret_key_id' },
] as const;

export interface RotationReport {
  activeKeyId: string;
  rewrapped: Record<string, number>;
  remainingOnOldKeys: Record<string, number>;
}

/**
 * Re-wraps every sealed value under the active master key, a row at a time,
 * each in its own short transaction with a row lock. Codes are not touched:
 * only the batch data keys that seal them change their wrapping, so selling
 * goes on while this runs (old and new master keys are both in the ring).
 */
export async function rotateMasterKey(p: Platform, opts: { batchSize?: number; onProgress?: (table: string, n: number) => void } = {}): Promise<RotationReport> {
  const active = p.keyRing.activeKeyId;
  const rewrapped: Record<string, number> = {};
  const remainingOnOldKeys: Record<string, number> = {};
  for (const c of sealedColumns) {
    rewrapped[c.table] = 0;
    for (;;) {
      const ids = await queryRows<{ id: string }>(p.db, `select id from ${c.table} where ${c.sealed} is not null and ${c.keyId} <> $1 limit $2`, [active, opts.batchSize ?? 200]);
      if (ids.length === 0) break;
      for (const { id } of ids) {
        const done = await p.db.transaction(async (tx) => {
          const [row] = await queryRows<{ sealed: Buffer | Uint8Array; key_id: string }>(tx, `select ${c.sealed} as sealed, ${c.keyId} as key_id from ${c.table} where id = $1 for update`, [id]);
          if (!row || row.key_id === active) return false; // rotated meanwhile
          const plain = p.keyRing.unwrap(row.key_id, Buffer.from(row.sealed), id);
          const wrapped = p.keyRing.wrap(plain, id);
          await queryRows(tx, `update ${c.table} set ${c.sealed} = $1, ${c.keyId} = $2 where id = $3`, [wrapped.sealed, wrapped.keyId, id]);
          return true;
        });
        if (done) rewrapped[c.table]! += 1;
      }
      opts.onProgress?.(c.table, rewrapped[c.table]!);
    }
    const [left] = await queryRows<{ n: number }>(p.db, `select count(*)::int as n from ${c.table} where ${c.sealed} is not null and ${c.keyId} <> $1`, [active]);
    remainingOnOldKeys[c.table] = Number(left?.n ?? 0);
  }
  return { activeKeyId: active, rewrapped, remainingOnOldKeys };
}
