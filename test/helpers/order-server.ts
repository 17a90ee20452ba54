/**
 * A kaquan instance in its own process, for tests that kill it (SIGKILL) and
 * start it again on the same database. The environment comes from the test
 * (freshDatabaseEnv: an on-disk PGlite directory or a real PostgreSQL
 * database). The first start creates a SKU with stock, an agent with a
 * balance and an API key, kept in DATA_DIR/fixture.json; every start listens
 * on a free port and prints one JSON line: the address and the fixture.
 * A line "check" on stdin prints the books' verification and stock counts.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openTestApp, bearer } from './boot.js';
import { createCodeSku, stockCodes } from './codes.js';
import { sandboxSecret } from '../../src/services.js';
import { verifyBooks } from '../../src/modules/ledger/reconciliation.js';

export interface OrderServerFixture {
  sku: string;
  agentId: string;
  key: { id: string; secret: string };
  stock: number;
  sandboxSecret: string;
}

const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => typeof e[1] === 'string'));
const t = await openTestApp(env, { onDisk: true });
const fixtureFile = join(env.DATA_DIR!, 'fixture.json');
let fixture: OrderServerFixture;
if (existsSync(fixtureFile)) fixture = JSON.parse(readFileSync(fixtureFile, 'utf8')) as OrderServerFixture;
else {
  const stock = Number(env.FIXTURE_STOCK ?? 200);
  const sku = await createCodeSku(t, { retailPriceFen: 1_000, costFen: 700 });
  await stockCodes(t, sku, stock);
  const owner = await t.loginAs('owner');
  const agent = await t.services.agents.create({ name: 'crash test agent', role: 'group_leader' });
  await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(owner.token), payload: { buyer_type: 'agent', buyer_id: agent.id, amount_fen: 10_000_000, reference: 'crash-test' } });
  const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner.token), payload: { owner_type: 'agent', owner_id: agent.id, name: 'crash test' } })).json() as { id: string; secret: string };
  fixture = { sku, agentId: agent.id, key: { id: key.id, secret: key.secret }, stock, sandboxSecret: sandboxSecret(t.platform) };
  writeFileSync(fixtureFile, JSON.stringify(fixture));
}
const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
console.log(JSON.stringify({ address, fixture }));

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== 'check') continue;
  const books = await verifyBooks(t.platform);
  const [counts] = await t.platform.database.executeSql<{ orders: number; units: number; sold: number; available: number; reserved: number }>(
    `select (select count(*)::int from orders where sku_id = $1) as orders,
            (select coalesce(sum(delivered_quantity), 0)::int from orders where sku_id = $1) as units,
            (select count(*)::int from codes where sku_id = $1 and state in ('sold', 'delivered', 'revealed')) as sold,
            (select count(*)::int from codes where sku_id = $1 and state = 'available') as available,
            (select count(*)::int from codes where sku_id = $1 and state = 'reserved') as reserved`,
    [fixture.sku],
  ).then((r) => r.rows);
  console.log(JSON.stringify({ ok: books.ok, failed: books.checks.filter((c) => !c.ok).map((c) => ({ name: c.name, samples: c.samples.slice(0, 3) })), ...counts }));
}
