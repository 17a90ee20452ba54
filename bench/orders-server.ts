/** The server side of bench:orders, in its own process. Prints what the load generator needs, then checks invariants on request. */
import { bootTestApp, bearer } from '../test/helpers/boot.js';
import { createCodeSku, stockCodes } from '../test/helpers/codes.js';
import { accounts } from '../src/modules/ledger/accounts.js';

const stock = Number(process.env.BENCH_STOCK ?? 24_000);
const agentsCount = Number(process.env.BENCH_AGENTS ?? 50);
const startBalance = 10_000_000;

// The risk gate runs on every order (counters, features, buffered log) but without the seeded rules: 10,000 orders in
// a minute from 50 agents on one loopback IP is exactly what they exist to stop.
const t = await bootTestApp({ env: { DATABASE_POOL_SIZE: process.env.BENCH_POOL ?? '24', LOG_LEVEL: 'silent', RISK_SEED_RULES: 'false' } });
const sku = await createCodeSku(t, { name: 'bench orders', retailPriceFen: 1_000, costFen: 700 });
const rawSku = await createCodeSku(t, { name: 'bench orders raw', retailPriceFen: 1_000, costFen: 700 });
await t.services.catalog.updateSku(sku, { maxPerOrder: 10 }, { id: 'bench' });
await stockCodes(t, sku, stock);
await stockCodes(t, rawSku, stock);
const finance = await t.loginAs('owner');
const keys: { id: string; secret: string; agentId: string }[] = [];
for (let i = 0; i < agentsCount; i++) {
  const agent = await t.services.agents.create({ name: `bench agent ${i}`, role: 'group_leader' });
  await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance.token), payload: { buyer_type: 'agent', buyer_id: agent.id, amount_fen: startBalance, reference: 'bench' } });
  const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(finance.token), payload: { owner_type: 'agent', owner_id: agent.id, name: 'bench' } })).json() as { id: string; secret: string };
  keys.push({ ...key, agentId: agent.id });
}
const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
console.log(JSON.stringify({ address, sku, rawSku, keys, stock, databaseUrl: t.env.DATABASE_URL ?? null, database: t.platform.database.kind, cache: t.platform.kv.kind }));

process.stdin.once('data', async () => {
  const db = t.platform.database;
  const q = async <R>(text: string, values: unknown[] = []) => (await db.executeSql<R>(text, values)).rows;
  const [orders] = await q<{ delivered: number; units: number; amount: string }>(`select count(*)::int as delivered, coalesce(sum(quantity), 0)::int as units, coalesce(sum(amount_fen), 0)::text as amount from orders where sku_id = $1 and status = 'delivered'`, [sku]);
  const [codes] = await q<{ sold: number; available: number; total: number; distinct_orders_per_code: number }>(
    `select (count(*) filter (where state in ('sold', 'delivered', 'revealed')))::int as sold, (count(*) filter (where state = 'available'))::int as available, count(*)::int as total,
            (select count(*)::int from (select code_id from code_events where to_state in ('sold', 'revealed') and from_state <> 'delivered' group by code_id having count(*) > 1) x) as distinct_orders_per_code
     from codes where sku_id = $1`,
    [sku],
  );
  const balances = await t.services.ledger.balances(keys.map((k) => accounts.agentBalance(k.agentId).id));
  const spent = keys.length * startBalance - Object.values(balances).reduce((a, b) => a + b, 0);
  const ledger = await t.services.ledger.verify();
  console.log(
    JSON.stringify({
      delivered_orders: orders!.delivered,
      units: orders!.units,
      codes_sold_twice: Number(codes!.distinct_orders_per_code),
      stock_mismatch: Math.abs(codes!.sold - orders!.units) + Math.abs(codes!.total - stock) + Math.abs(codes!.available - (stock - codes!.sold)),
      ledger_imbalance: (ledger.ok ? 0 : 1) + Math.abs(await t.services.ledger.globalSum()),
      balance_mismatch: Math.abs(spent - Number(orders!.amount)),
    }),
  );
  await t.close();
  process.exit(0);
});
