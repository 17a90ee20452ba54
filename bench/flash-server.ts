/**
 * The server side of bench:flash, in its own process: the real app on the
 * embedded database (or DATABASE_URL / REDIS_URL), a SKU with more codes than
 * the sale's units, one flash sale, partner API keys and funded customers.
 * Prints what the load generator needs, then answers commands on stdin, one
 * per line: "queries" (statements sent to the database so far) and "check"
 * (the invariants, from the database).
 */
import { createInterface } from 'node:readline';
import { bootTestApp, bearer } from '../test/helpers/boot.js';
import { createCodeSku, stockCodes } from '../test/helpers/codes.js';
import { accounts } from '../src/modules/ledger/accounts.js';
import { newId } from '../src/lib/ids.js';

const units = Number(process.env.BENCH_UNITS ?? 1_000);
const stock = Number(process.env.BENCH_STOCK ?? units + 200);
const buyers = Number(process.env.BENCH_BUYERS ?? 22_000);
const keysCount = Number(process.env.BENCH_KEYS ?? 8);
const priceFen = 100;
const startBalance = 1_000;

// The risk gate runs on every admitted order (counters, features, buffered log) but without the seeded rules:
// thousands of customers buying from one loopback IP within seconds is what they exist to stop.
const t = await bootTestApp({ env: { DATABASE_POOL_SIZE: process.env.BENCH_POOL ?? '24', LOG_LEVEL: 'silent', RISK_SEED_RULES: 'false' } });
const q = async <R>(text: string, values: unknown[] = []) => (await t.platform.database.executeSql<R>(text, values)).rows;
const sku = await createCodeSku(t, { name: 'bench flash', retailPriceFen: 1_000, costFen: 50 });
await stockCodes(t, sku, stock);
const owner = await t.loginAs('owner');
const keys: { id: string; secret: string }[] = [];
for (let i = 0; i < keysCount; i++) {
  keys.push((await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner.token), payload: { owner_type: 'partner', owner_id: `bench-shop-${i}`, name: 'bench' } })).json() as { id: string; secret: string });
}

// Buyers: customers with a partner identity each, written in bulk (the set-up is not what is measured), and funded
// through the ledger in balanced transactions of 2,000 customers.
const now = t.platform.clock.now();
const ids = Array.from({ length: buyers }, () => newId('cus', now));
for (let from = 0; from < buyers; from += 5_000) {
  const chunk = ids.slice(from, from + 5_000);
  await q(`insert into customers (id, display_name, locale, status, created_at) select id, 'bench', 'zh-CN', 'active', $2::timestamptz from unnest($1::text[]) as u(id)`, [chunk, now.toISOString()]);
  await q(
    `insert into customer_identities (id, customer_id, provider, external_id, created_at) select u.iid, u.id, 'partner', u.ext, $4::timestamptz from unnest($1::text[], $2::text[], $3::text[]) as u(id, iid, ext)`,
    [chunk, chunk.map(() => newId('cid', now)), chunk.map((_, i) => `buyer-${from + i}`), now.toISOString()],
  );
}
for (let from = 0; from < buyers; from += 2_000) {
  const chunk = ids.slice(from, from + 2_000);
  await t.platform.db.transaction((tx) =>
    t.services.ledger.post(tx, { kind: 'balance_topup', refType: 'manual', refId: `bench-flash-${from}`, postings: [{ account: accounts.cash, amountFen: -startBalance * chunk.length }, ...chunk.map((id) => ({ account: accounts.customerBalance(id), amountFen: startBalance }))] }),
  );
}

const created = await t.services.flashSales.create(
  { name: 'bench flash', skuId: sku, priceFen, units, perUserLimit: 1, startsAt: new Date(now.getTime() - 60_000), endsAt: new Date(now.getTime() + 3_600_000) },
  { id: owner.userId },
  'bench-flash-sale',
);
const saleId = created.sale.id;
const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
console.log(JSON.stringify({ address, saleId, sku, keys, buyers, units, stock, database: t.platform.database.kind, cache: t.platform.kv.kind }));

const commands = createInterface({ input: process.stdin });
commands.on('line', async (line) => {
  const cmd = line.trim();
  if (cmd === 'queries') {
    // The risk log is written off the request path in batches: flushed first, so its timer writes nothing later.
    await t.services.risk.flush();
    console.log(JSON.stringify({ queries: t.platform.database.queryCount() }));
    return;
  }
  if (cmd !== 'check') return;
  const [orders] = await q<{ n: number; units: number; delivered: number; buyers: number }>(
    `select count(*)::int as n, coalesce(sum(quantity), 0)::int as units, count(*) filter (where status = 'delivered')::int as delivered, count(distinct buyer_id)::int as buyers
     from orders where offer_kind = 'flash_sale' and offer_id = $1 and status <> 'cancelled'`,
    [saleId],
  );
  const [codes] = await q<{ delivered: number; total: number; twice: number }>(
    `select count(*) filter (where state in ('sold', 'delivered', 'revealed'))::int as delivered, count(*)::int as total,
            (select count(*)::int from (select code_id from code_events where to_state in ('sold', 'revealed') and from_state <> 'delivered' group by code_id having count(*) > 1) x) as twice
     from codes where sku_id = $1`,
    [sku],
  );
  const [money] = await q<{ paid: string }>(`select coalesce(sum(amount_fen), 0)::text as paid from orders where offer_kind = 'flash_sale' and offer_id = $1 and status <> 'cancelled'`, [saleId]);
  const [balances] = await q<{ total: string }>(`select coalesce(sum(balance_fen), 0)::text as total from ledger_accounts where kind = 'customer_balance' and owner_id = any($1::text[])`, [ids]);
  const ledger = await t.services.ledger.verify();
  const gate = await t.services.flashSales.gate.snapshot(saleId);
  const [counter] = await q<{ sold: number }>(`select sold_units as sold from flash_sales where id = $1`, [saleId]);
  console.log(
    JSON.stringify({
      units_sold: orders!.units,
      orders: orders!.n,
      delivered_orders: orders!.delivered,
      codes_delivered: codes!.delivered,
      oversold: Math.max(0, Math.max(orders!.units, codes!.delivered) - units),
      buyers_over_limit: orders!.n - orders!.buyers,
      codes_sold_twice: codes!.twice,
      ledger_imbalance: (ledger.ok ? 0 : 1) + Math.abs(await t.services.ledger.globalSum()),
      balance_mismatch: Math.abs(buyers * startBalance - Number(balances!.total) - Number(money!.paid)),
      gate_sold: gate?.sold ?? null,
      gate_vs_orders: gate ? gate.sold - orders!.units : null,
      counter_vs_orders: counter!.sold - orders!.units,
    }),
  );
  await t.close();
  process.exit(0);
});
