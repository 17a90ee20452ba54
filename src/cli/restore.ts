import 'dotenv/config';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MasterKeyRing } from '../lib/crypto.js';
import { describeVaultVerification, type VaultKeys } from '../modules/vault/verify.js';
import { RefusedError } from '../ops/backup.js';
import { restorePglite, restorePostgres, type RestoreReport } from '../ops/restore.js';

/**
 * `npm run restore -- --from FILE (--to POSTGRES_URL | --data-dir DIR) [--force] [--secrets-from secrets.json]`
 * restores a backup into a new database or data directory (a non-empty one
 * only with --force), then checks the copy against the manifest: rows per
 * table, migration level and, with the master keys (VAULT_MASTER_KEYS and
 * HMAC_KEY, or DIR/secrets.json), that every code opens. Exit 0: restored
 * and checked; 1: refused or failed, 2: restored but a check failed.
 */
const { values } = parseArgs({
  options: { from: { type: 'string' }, to: { type: 'string' }, 'data-dir': { type: 'string' }, force: { type: 'boolean', default: false }, 'secrets-from': { type: 'string' } },
});

function keysFrom(dataDir: string | undefined): { keys: VaultKeys | null; where: string } {
  const env = process.env;
  if (env.VAULT_MASTER_KEYS && env.HMAC_KEY) return { keys: { keyRing: MasterKeyRing.parse(env.VAULT_MASTER_KEYS, env.VAULT_ACTIVE_KEY_ID), hmacKey: Buffer.from(env.HMAC_KEY, 'base64') }, where: 'VAULT_MASTER_KEYS and HMAC_KEY' };
  const file = dataDir ? join(dataDir, 'secrets.json') : undefined;
  if (file && existsSync(file)) {
    const s = JSON.parse(readFileSync(file, 'utf8')) as { vaultMasterKeys: string; hmacKey: string };
    return { keys: { keyRing: MasterKeyRing.parse(s.vaultMasterKeys), hmacKey: Buffer.from(s.hmacKey, 'base64') }, where: file };
  }
  return { keys: null, where: 'none' };
}

function print(r: RestoreReport, keysWhere: string) {
  const lines = [
    `restored ${r.manifest.file} (${r.kind}, taken ${r.manifest.created_at}) into ${r.target} in ${r.took_ms} ms`,
    `  schema    ${r.schema.migrations_applied} migrations, latest ${r.schema.latest_migration} (backup: ${r.manifest.schema.migrations_applied}, ${r.manifest.schema.latest_migration})`,
    r.differences.length === 0
      ? `  rows      ${r.rows} in ${r.tables} tables, every table equal to the manifest`
      : `  rows      DIFFER from the manifest: ${r.differences.map((d) => `${d.table} ${d.actual} (expected ${d.expected})`).join(', ')}`,
    ...(r.vault ? describeVaultVerification(r.vault).map((l, i) => (i === 0 ? `  ${l} [keys from ${keysWhere}]` : `  ${l}`)) : [`  vault     NOT checked: no master keys (set VAULT_MASTER_KEYS and HMAC_KEY, or --secrets-from)`]),
  ];
  if (r.vault && !r.vault.ok && r.vault.failures.some((f) => f.kind === 'data_key_does_not_open' || f.kind === 'missing_master_key'))
    lines.push('  the codes cannot be read with these keys: this copy needs the master keys it was backed up with (ids above)');
  lines.push(r.ok ? 'restore checked: OK' : 'restore checked: FAILED (see above); the copy is in place but must not be used as is');
  (r.ok ? console.log : console.error)(lines.join('\n'));
}

try {
  if (!values.from || (!values.to && !values['data-dir']) || (values.to && values['data-dir'])) {
    throw new RefusedError('usage: npm run restore -- --from FILE (--to postgres://…/NEW_DATABASE | --data-dir NEW_DIR) [--force] [--secrets-from secrets.json]');
  }
  const file = resolve(values.from);
  let report: RestoreReport;
  let where: string;
  if (values.to) {
    const k = keysFrom(undefined);
    where = k.where;
    report = await restorePostgres({ file, targetUrl: values.to, force: values.force, keys: k.keys });
  } else {
    const dataDir = resolve(values['data-dir']!);
    if (values['secrets-from']) {
      const dest = join(dataDir, 'secrets.json');
      if (existsSync(dest) && !values.force) throw new RefusedError(`${dest} exists; add --force to replace it`);
      mkdirSync(dataDir, { recursive: true });
      copyFileSync(resolve(values['secrets-from']), dest);
      chmodSync(dest, 0o600);
    }
    const k = keysFrom(dataDir);
    where = k.where;
    report = await restorePglite({ file, dataDir, force: values.force, keys: k.keys });
  }
  print(report, where);
  if (!report.ok) process.exitCode = 2;
} catch (e) {
  console.error(`restore ${e instanceof RefusedError ? 'refused' : 'failed'}: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
}
