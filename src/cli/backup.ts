import 'dotenv/config';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { backupPgliteDir, backupPostgres, manifestPath, RefusedError, type BackupManifest } from '../ops/backup.js';

/**
 * `npm run backup -- [--out FILE] [--force]`: the whole database to one file
 * and its manifest (`FILE.manifest.json`: time, migration level, exact rows
 * per table, master key ids the vault needs). With DATABASE_URL, `pg_dump -Fc`
 * in one snapshot while the platform keeps running; otherwise the embedded
 * database in DATA_DIR (default ./data) as a .tar.gz, with the app stopped.
 * Never contains the master keys. See docs/operations/backup.md.
 */
const { values } = parseArgs({ options: { out: { type: 'string' }, force: { type: 'boolean', default: false }, 'data-dir': { type: 'string' } } });
const databaseUrl = process.env.DATABASE_URL;
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
const out = resolve(values.out ?? `backups/kaquan-${databaseUrl ? 'postgres' : 'embedded'}-${stamp}.${databaseUrl ? 'dump' : 'tar.gz'}`);
const dataDir = resolve(values['data-dir'] ?? process.env.DATA_DIR ?? './data');

try {
  const m: BackupManifest = databaseUrl
    ? await backupPostgres({ databaseUrl, outFile: out, force: values.force })
    : await backupPgliteDir({ dataDir, outFile: out, force: values.force, ignoreOpenMark: values.force });
  const rows = Object.values(m.tables).reduce((a, b) => a + b, 0);
  const some = ['orders', 'codes', 'ledger_entries', 'payments'].filter((t) => t in m.tables).map((t) => `${t} ${m.tables[t]}`).join(', ');
  console.log(
    [
      `backup written: ${out} (${(m.bytes / 1024 / 1024).toFixed(1)} MB, sha256 ${m.sha256.slice(0, 16)}…) in ${m.took_ms} ms`,
      `  from      ${m.source} (PostgreSQL ${m.server_version})`,
      `  as of     ${m.created_at}; schema: ${m.schema.migrations_applied} migrations, latest ${m.schema.latest_migration}`,
      `  rows      ${rows} in ${Object.keys(m.tables).length} tables (${some})`,
      `  manifest  ${manifestPath(out)}`,
      `  keys      the vault needs master key(s) ${m.master_key_ids.join(', ') || '(none yet)'}: they are NOT in the backup; keep VAULT_MASTER_KEYS and HMAC_KEY${databaseUrl ? '' : ` (or ${dataDir}/secrets.json)`} safe elsewhere`,
    ].join('\n'),
  );
} catch (e) {
  console.error(`backup failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
  if (!(e instanceof RefusedError) && process.env.DEBUG) console.error(e);
}
