import type { MasterKeyRing } from '../../lib/crypto.js';
import { aesGcmDecrypt } from '../../lib/crypto.js';
import { secretHmac, visibleTail } from './bulk-insert.js';
import { sealedColumns } from './rotation.js';

/** What the verifier needs: raw SQL (no migrations, so it can read a restored copy as it is) and the keys. */
export interface VaultSource {
  executeSql<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}
export interface VaultKeys {
  keyRing: MasterKeyRing;
  hmacKey: Buffer;
}

export type VaultFailureKind = 'missing_master_key' | 'data_key_does_not_open' | 'code_does_not_open' | 'secret_hash_mismatch' | 'sealed_value_does_not_open';

export interface VaultVerification {
  ok: boolean;
  /** Master key ids the data is sealed with (every one must be in VAULT_MASTER_KEYS). */
  masterKeyIds: string[];
  batches: number;
  codes: number;
  /** Other sealed values (TOTP secrets, API-key secrets, phones, supplier credentials, webhook secrets). */
  sealedValues: number;
  failureCount: number;
  /** What failed, per kind of thing checked. */
  failed: { batches: number; codes: number; sealedValues: number };
  /** The first failures, by row id (never a secret). */
  failures: { kind: VaultFailureKind; table: string; id: string; message: string }[];
  ms: number;
}

const buf = (v: Uint8Array) => (Buffer.isBuffer(v) ? v : Buffer.from(v));

/**
 * Opens every sealed value the way the app does and checks it: each batch's
 * data key unwraps with the configured master key ring, each code opens with
 * its batch key bound to its id, and its secret hashes (HMAC_KEY) to the
 * stored lookup hash and ends with the stored tail. A wrong master key shows
 * up as every batch failing with `data_key_does_not_open`; a wrong HMAC_KEY
 * as `secret_hash_mismatch`. Reads in pages, never logs or returns a secret.
 */
export async function verifyVault(db: VaultSource, keys: VaultKeys, opts: { pageSize?: number; maxFailures?: number } = {}): Promise<VaultVerification> {
  const started = Date.now();
  const pageSize = opts.pageSize ?? 5000;
  const maxFailures = opts.maxFailures ?? 20;
  const failures: VaultVerification['failures'] = [];
  let failureCount = 0;
  const fail = (kind: VaultFailureKind, table: string, id: string, message: string) => {
    failureCount += 1;
    if (failures.length < maxFailures) failures.push({ kind, table, id, message });
  };
  const keyIds = new Set<string>();
  const failed = { batches: 0, codes: 0, sealedValues: 0 };

  function unwrap(table: string, id: string, keyId: string, sealed: Uint8Array, kind: VaultFailureKind): Buffer | null {
    keyIds.add(keyId);
    if (!keys.keyRing.has(keyId)) {
      fail('missing_master_key', table, id, `sealed with master key "${keyId}", which is not in VAULT_MASTER_KEYS`);
      return null;
    }
    try {
      return keys.keyRing.unwrap(keyId, buf(sealed), id);
    } catch {
      fail(kind, table, id, `does not open with master key "${keyId}" (a different key under that id, or a damaged row)`);
      return null;
    }
  }

  const batches = (await db.executeSql<{ id: string; data_key_sealed: Uint8Array; master_key_id: string }>('select id, data_key_sealed, master_key_id from code_batches order by id')).rows;
  let codes = 0;
  for (const b of batches) {
    const dataKey = unwrap('code_batches', b.id, b.master_key_id, b.data_key_sealed, 'data_key_does_not_open');
    if (!dataKey) failed.batches += 1;
    let after = '';
    for (;;) {
      const page = (
        await db.executeSql<{ id: string; sealed: Uint8Array; secret_hmac: string; last4: string }>('select id, sealed, secret_hmac, last4 from codes where batch_id = $1 and id > $2 order by id limit $3', [b.id, after, pageSize])
      ).rows;
      if (page.length === 0) break;
      after = page.at(-1)!.id;
      codes += page.length;
      if (!dataKey) {
        // Counted, not listed one by one: the batch's own failure names the cause.
        failureCount += page.length;
        failed.codes += page.length;
        continue;
      }
      for (const c of page) {
        let secret: string;
        try {
          secret = (JSON.parse(aesGcmDecrypt(dataKey, buf(c.sealed), c.id).toString()) as { s: string }).s;
        } catch {
          failed.codes += 1;
          fail('code_does_not_open', 'codes', c.id, 'does not open with its batch data key');
          continue;
        }
        if (secretHmac(keys.hmacKey, secret) !== c.secret_hmac || visibleTail(secret) !== c.last4) {
          failed.codes += 1;
          fail('secret_hash_mismatch', 'codes', c.id, 'opens, but its lookup hash or tail does not match the secret (wrong HMAC_KEY?)');
        }
      }
    }
  }

  let sealedValues = 0;
  // Batch data keys were opened above, with their codes.
  for (const col of sealedColumns.filter((c) => c.table !== 'code_batches')) {
    const rows = (await db.executeSql<{ id: string; sealed: Uint8Array; key_id: string }>(`select id, ${col.sealed} as sealed, ${col.keyId} as key_id from ${col.table} where ${col.sealed} is not null`)).rows;
    for (const r of rows) {
      sealedValues += 1;
      if (!unwrap(col.table, r.id, r.key_id, r.sealed, 'sealed_value_does_not_open')) failed.sealedValues += 1;
    }
  }

  return { ok: failureCount === 0, masterKeyIds: [...keyIds].sort(), batches: batches.length, codes, sealedValues, failureCount, failed, failures, ms: Date.now() - started };
}

/** One line per fact for people, failures first. */
export function describeVaultVerification(v: VaultVerification): string[] {
  const head = v.ok
    ? `vault ok: ${v.codes} codes in ${v.batches} batches and ${v.sealedValues} other sealed values open with master key(s) ${v.masterKeyIds.join(', ') || '(none needed)'} (${v.ms} ms)`
    : `vault FAILED: ${v.failed.codes} of ${v.codes} codes, ${v.failed.batches} of ${v.batches} batch data keys and ${v.failed.sealedValues} of ${v.sealedValues} other sealed values do not open or do not match (keys needed: ${v.masterKeyIds.join(', ')})`;
  return [head, ...v.failures.map((f) => `  ${f.kind}: ${f.table} ${f.id}: ${f.message}`)];
}
