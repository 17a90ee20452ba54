/**
 * npm run bench:claim — claims per second through the vault service
 * (reserve: row-locked claim with SKIP LOCKED + life-cycle event) beside a
 * raw SQL baseline doing the same statements on a bare pg pool, measured in
 * the same run with the same concurrency. Real PostgreSQL when DATABASE_URL
 * is set. Last line: JSON with both figures and the invariants checked.
 */
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { bootTestApp } from '../test/helpers/boot.js';
import { createCodeSku, stockCodes } from '../test/helpers/codes.js';
import { openPlatform, closePlatform } from '../src/platform.js';
import { createServices } from '../src/services.js';
import { queryRows } from '../src/db/raw.js';

const claims = Number(process.env.BENCH_CLAIMS ?? 10_000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);

const t = await bootTestApp();
const real = t.platform.database.kind === 'postgres';
const skuService = await createCodeSku(t, { name: 'bench claim service' });
const skuRaw = await createCodeSku(t, { name: 'bench claim raw' });
await stockCodes(t, skuService, claims);
await stockCodes(t, skuRaw, claims);

// The service on a pool as wide as the load; the baseline on its own pool of the same size.
const platform = real ? await openPlatform({ ...t.config, databasePoolSize: concurrency }) : t.platform;
const services = real ? createServices(platform) : t.services;
const rawPool = real ? new pg.Pool({ connectionString: t.config.databaseUrl, max: concurrency }) : null;

async function drive(name: string, claimOne: (i: number) => Promise<number>) {
  const latencies: number[] = [];
  let next = 0;
  let claimed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= claims) return;
        const t0 = performance.now();
        const got = await claimOne(i); // not `claimed += await ...`: that reads `claimed` before the await
        claimed += got;
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (x: number) => Number(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * x))]!.toFixed(2));
  return { name, claimed, claims_per_second: Math.round(claimed / seconds), p50_ms: q(0.5), p99_ms: q(0.99) };
}

const until = new Date(Date.now() + 3_600_000);
const service = await drive('vault.reserve (service)', async (i) => (await services.vault.reserve({ skuId: skuService, quantity: 1, holder: `ord_svc_${i}`, until })).length);

const claimSql = `with picked as (
    select id from codes where sku_id = $1 and state = 'available' and allocation_id is null and (expires_at is null or expires_at > now())
    order by expires_at asc nulls last limit 1 for update skip locked)
  update codes c set state = 'reserved', reserved_by = $2, reserved_until = $3, updated_at = now() from picked where c.id = picked.id returning c.id`;
const eventSql = `insert into code_events (id, code_id, from_state, to_state, actor_type, actor_id, ref, at) values ($1, $2, 'available', 'reserved', 'order', $3, $3, now())`;
const raw = await drive('raw SQL baseline', async (i) => {
  const holder = `ord_raw_${i}`;
  if (rawPool) {
    const client = await rawPool.connect();
    try {
      await client.query('begin');
      const { rows } = await client.query<{ id: string }>(claimSql, [skuRaw, holder, until]);
      if (rows[0]) await client.query(eventSql, [`cev_${randomUUID()}`, rows[0].id, holder]);
      await client.query('commit');
      return rows.length;
    } finally {
      client.release();
    }
  }
  // Embedded: one connection, so the same statements inside its transaction API (which serialises them).
  return t.platform.db.transaction(async (tx) => {
    const rows = await queryRows<{ id: string }>(tx, claimSql, [skuRaw, holder, until.toISOString()]);
    if (rows[0]) await queryRows(tx, eventSql, [`cev_${randomUUID()}`, rows[0].id, holder]);
    return rows.length;
  });
});

const check = async (sku: string) => {
  const [r] = (await t.platform.database.executeSql<{ reserved: number; distinct_holders: number; events: number }>(
    `select (count(*) filter (where state = 'reserved'))::int as reserved, count(distinct reserved_by)::int as distinct_holders,
            (select count(*)::int from code_events e join codes c on c.id = e.code_id where c.sku_id = $1 and e.to_state = 'reserved') as events
     from codes where sku_id = $1`,
    [sku],
  )).rows;
  return r!;
};
const s = await check(skuService);
const r = await check(skuRaw);
const invariants = {
  codes_claimed_twice: s.reserved - s.distinct_holders + (r.reserved - r.distinct_holders),
  claims_lost: claims - service.claimed + (claims - raw.claimed),
  db_disagrees_with_claims: Math.abs(s.reserved - service.claimed) + Math.abs(r.reserved - raw.claimed),
  missing_events: s.reserved - s.events + (r.reserved - r.events),
};
const ratio = Number((service.claims_per_second / raw.claims_per_second).toFixed(2));
console.log(`\nkaquan bench:claim on ${t.platform.database.kind}, ${claims} claims each, ${concurrency} concurrent`);
console.table([service, raw]);
console.log(`service / raw SQL = ${ratio}`);
console.log('invariants (all must be 0):', invariants);
if (real) {
  await closePlatform(platform);
  await rawPool!.end();
}
await t.close();
console.log(JSON.stringify({ bench: 'claim', database: t.platform.database.kind, claims, concurrency, service, raw_sql: raw, service_to_raw_ratio: ratio, invariants }));
if (Object.values(invariants).some((v) => v !== 0)) process.exitCode = 1;
