import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freshDatabaseEnv, openTestApp, realServers, TEST_HMAC_KEY, TEST_MASTER_KEYS, type TestApp } from '../helpers/boot.js';
import { orderLoad, runCli, salesCounts, seedShop, type Sold } from './drill.js';
import { backupPglite, pgliteClientOf, readManifest, tableCounts, type BackupManifest } from '../../src/ops/backup.js';
import { verifyBooks } from '../../src/modules/ledger/reconciliation.js';
import { verifyVault } from '../../src/modules/vault/verify.js';
import { MasterKeyRing } from '../../src/lib/crypto.js';

/**
 * The backup drill of docs/operations/backup.md, for both databases: orders
 * keep coming while the backup is taken; the backup is restored (by the CLI)
 * into a new data directory or database; the app booted on the copy finds
 * the books and the vault clean, exactly the rows of the backup point, and
 * every code a buyer received before it opening to the same secret. The
 * copy opens only with the right master key, and a non-empty target is
 * refused.
 */

const RIGHT_KEYS = { VAULT_MASTER_KEYS: TEST_MASTER_KEYS, HMAC_KEY: TEST_HMAC_KEY };
// Same key id, other bytes: what a restore with the wrong key file looks like.
const WRONG_MASTER_KEYS = `t1:${Buffer.alloc(32, 8).toString('base64')}`;
// Enough stock that the paced load cannot sell out while a slow machine runs the backup CLI (a sell-out would fail the drill).
const STOCK = 1_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Phase timings, printed at the end of each drill (the drill doubles as a measurement for docs/operations/backup.md). */
function phases(label: string) {
  let last = Date.now();
  const out: string[] = [];
  return {
    mark(name: string) {
      out.push(`${name} ${Date.now() - last} ms`);
      if (process.env.KQ_DRILL_TRACE) console.info(`${label}: ${out.at(-1)}`);
      last = Date.now();
    },
    print: () => console.info(`${label}: ${out.join(', ')}`),
  };
}

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kq-backup-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The copy, booted as the app: books, vault, rows and the codes buyers got before the backup. */
async function checkRestoredApp(r: TestApp, manifest: BackupManifest, sold: Sold[], liveOrders: number) {
  const books = await verifyBooks(r.platform);
  expect(books.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([]);
  const vault = await verifyVault(r.platform.database, r.platform);
  expect(vault).toMatchObject({ ok: true, codes: STOCK, batches: 1, failureCount: 0, masterKeyIds: ['t1'] });

  const run = async <R,>(text: string) => (await r.platform.database.executeSql<R>(text)).rows;
  expect(await tableCounts(run)).toEqual(manifest.tables);
  // The backup point falls inside the load: some orders before it, more after.
  expect(manifest.tables.orders).toBeGreaterThanOrEqual(10);
  expect(liveOrders).toBeGreaterThan(manifest.tables.orders!);

  const restored = new Set((await run<{ id: string }>('select id from orders')).map((o) => o.id));
  const before = sold.filter((s) => restored.has(s.orderId));
  // Every restored order is one a buyer was answered for, and holds the codes that buyer got.
  expect(before).toHaveLength(restored.size);
  for (const s of before) {
    for (const c of s.codes) expect((await r.services.vault.open(c.code_id)).secret).toBe(c.secret);
  }

  // With another key under the same id, nothing opens, and each batch says why.
  const wrong = await verifyVault(r.platform.database, { keyRing: MasterKeyRing.parse(WRONG_MASTER_KEYS), hmacKey: r.platform.hmacKey });
  expect(wrong).toMatchObject({ ok: false, codes: STOCK, failed: { batches: 1, codes: STOCK, sealedValues: 1 } });
  expect(wrong.failures[0]).toMatchObject({ kind: 'data_key_does_not_open', table: 'code_batches' });
}

describe('backup and restore drill', () => {
  it('embedded database: backup under load, restore into a new data directory with the CLI', async () => {
    const dir = scratch();
    const clock = phases('embedded drill');
    const env: Record<string, string> = { NODE_ENV: 'test', DATA_DIR: join(dir, 'live'), ...RIGHT_KEYS, SESSION_SECRET: 'test-session-secret-with-enough-length-0123456789', LOG_LEVEL: 'silent', RISK_SEED_RULES: 'false' };
    // The live app runs in memory (from the migrated image: no initdb); its copy is restored onto disk as DATA_DIR/pglite.
    const t = await openTestApp(env);
    cleanups.push(() => t.stop());
    const shop = await seedShop(t, STOCK);
    clock.mark('boot and seed');

    const load = orderLoad(t, shop);
    await load.until(10);
    clock.mark('load to 10 orders');
    const file = join(dir, 'kaquan.tar.gz');
    const manifest = await backupPglite(pgliteClientOf(t.platform.db)!, { outFile: file, source: env.DATA_DIR! });
    clock.mark(`backup (${manifest.bytes} bytes, ${manifest.tables.orders} orders)`);
    await load.until(manifest.tables.orders! + 10);
    await load.stop();
    expect(load.failures).toEqual([]);
    const live = await salesCounts(t, shop.sku);
    expect(readManifest(file)).toEqual(manifest);
    await t.stop();
    clock.mark('more load, stop');

    const copy = join(dir, 'restored');
    const [wrong, ok] = await Promise.all([
      runCli('restore', ['--from', file, '--data-dir', join(dir, 'wrong-key')], { ...RIGHT_KEYS, VAULT_MASTER_KEYS: WRONG_MASTER_KEYS }),
      runCli('restore', ['--from', file, '--data-dir', copy], RIGHT_KEYS),
    ]);
    expect(wrong.code, wrong.stdout + wrong.stderr).toBe(2);
    expect(wrong.stderr).toContain(`vault FAILED: ${STOCK} of ${STOCK} codes, 1 of 1 batch data keys and 1 of 1 other sealed values do not open`);
    expect(wrong.stderr).toContain('cannot be read with these keys');
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('every table equal to the manifest');
    expect(ok.stdout).toContain(`vault ok: ${STOCK} codes in 1 batches`);
    const again = await runCli('restore', ['--from', file, '--data-dir', copy], RIGHT_KEYS);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('is not empty');
    clock.mark('CLI restores with a wrong and the right key, refused third restore');

    const r = await openTestApp({ ...env, DATA_DIR: copy }, { onDisk: true });
    try {
      await checkRestoredApp(r, manifest, load.sold, live.orders);
      // While an app holds the directory, the CLI refuses to open it (PGlite is single-process).
      const busy = await runCli('backup', ['--out', join(dir, 'busy.tar.gz')], { DATA_DIR: copy });
      expect(busy.code, busy.stderr).toBe(1);
      expect(busy.stderr).toContain('looks open');
    } finally {
      await r.stop();
    }
    clock.mark('app on the copy: verifiers, rows, codes; refused CLI backup');
    // The copy, stopped, backs up again with the CLI to the same rows.
    const second = await runCli('backup', ['--out', join(dir, 'second.tar.gz')], { DATA_DIR: copy });
    expect(second.code, second.stderr).toBe(0);
    expect(readManifest(join(dir, 'second.tar.gz')).tables).toEqual(manifest.tables);
    clock.mark('CLI backup of the stopped copy');
    clock.print();
  });

  it.runIf(realServers)('PostgreSQL: pg_dump under load from another process, pg_restore into a new database with the CLI', async () => {
    const dir = scratch();
    const clock = phases('postgres drill');
    const fresh = await freshDatabaseEnv();
    cleanups.push(fresh.cleanup);
    const env: Record<string, string> = { ...fresh.env, RISK_SEED_RULES: 'false' };
    const t = await openTestApp(env);
    cleanups.push(() => t.stop());
    const shop = await seedShop(t, STOCK);
    const source = env.DATABASE_URL!;
    const target = (name: string) => {
      const u = new URL(source);
      u.pathname = `/${u.pathname.slice(1)}_${name}`;
      cleanups.push(async () => {
        const c = new pg.Client({ connectionString: source });
        await c.connect();
        await c.query(`drop database if exists "${u.pathname.slice(1)}" with (force)`);
        await c.end();
      });
      return u.toString();
    };

    clock.mark('boot and seed');
    const load = orderLoad(t, shop);
    await load.until(10);
    const file = join(dir, 'kaquan.dump');
    const backup = await runCli('backup', ['--out', file], { DATABASE_URL: source });
    expect(backup.code, backup.stderr).toBe(0);
    const manifest = readManifest(file);
    clock.mark(`CLI backup under load (pg_dump ${manifest.took_ms} ms, ${manifest.bytes} bytes, ${manifest.tables.orders} orders)`);
    await load.until(manifest.tables.orders! + 10);
    await load.stop();
    expect(load.failures).toEqual([]);
    const live = await salesCounts(t, shop.sku);
    expect(backup.stdout).toContain(`backup written: ${file}`);
    expect(manifest).toMatchObject({ kind: 'postgres', master_key_ids: ['t1'] });

    const wrong = await runCli('restore', ['--from', file, '--to', target('wrongkey')], { ...RIGHT_KEYS, VAULT_MASTER_KEYS: WRONG_MASTER_KEYS });
    expect(wrong.code, wrong.stdout + wrong.stderr).toBe(2);
    expect(wrong.stderr).toContain('cannot be read with these keys');

    const copyUrl = target('restored');
    const ok = await runCli('restore', ['--from', file, '--to', copyUrl], RIGHT_KEYS);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('every table equal to the manifest');
    expect(ok.stdout).toContain(`vault ok: ${STOCK} codes in 1 batches`);
    const again = await runCli('restore', ['--from', file, '--to', copyUrl], RIGHT_KEYS);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('is not empty');
    clock.mark('CLI restores: wrong key, right key, refused');

    const r = await openTestApp({ ...env, DATABASE_URL: copyUrl });
    try {
      await checkRestoredApp(r, manifest, load.sold, live.orders);
    } finally {
      await r.stop();
    }
    expect(existsSync(`${file}.manifest.json`)).toBe(true);
    clock.mark('app on the copy: verifiers, rows, codes');
    clock.print();
  });
});
