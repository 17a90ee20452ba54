/** The server side of bench:import, in its own process so that its memory is measured alone. */
import { bootTestApp } from '../test/helpers/boot.js';
import { createCodeSku } from '../test/helpers/codes.js';

const t = await bootTestApp();
const sku = await createCodeSku(t, { name: 'bench import' });
const owner = await t.loginAs('owner');
const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
console.log(JSON.stringify({ address, sku, token: owner.token, database: t.platform.database.kind, databaseUrl: t.env.DATABASE_URL ?? null }));

// Asked over stdin to check the invariants and stop (the embedded database lives in this process).
process.stdin.once('data', async (d) => {
  const { sample } = JSON.parse(d.toString()) as { sample: string };
  const db = t.platform.database;
  const [counts] = (await db.executeSql<{ n: number; distinct_hmac: number; available: number }>(`select count(*)::int as n, count(distinct secret_hmac)::int as distinct_hmac, (count(*) filter (where state = 'available'))::int as available from codes where sku_id = $1`, [sku])).rows;
  const ids = (await db.executeSql<{ id: string }>('select id from codes where sku_id = $1 order by id limit 50', [sku])).rows.map((r) => r.id);
  const leaks = (await db.executeSql<{ n: number }>(`select count(*)::int as n from codes where sku_id = $1 and position(convert_to($2, 'UTF8') in sealed) > 0`, [sku, sample])).rows[0]!.n;
  const opened = await t.services.vault.openCodes(ids);
  console.log(JSON.stringify({ n: Number(counts!.n), distinct: Number(counts!.distinct_hmac), available: Number(counts!.available), leaks: Number(leaks), sampled: ids.length, decrypted: [...opened.values()].filter((c) => c.secret.length === 16).length }));
  await t.close();
  process.exit(0);
});
