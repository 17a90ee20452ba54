/** The server side of bench:http, in its own process so that the load generator does not share its CPU. */
import { bootTestApp, bearer } from '../test/helpers/boot.js';

const t = await bootTestApp();
for (let i = 0; i < 50; i++) await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: `bench-${i}` } });
const owner = await t.loginAs('owner');
const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner.token), payload: { owner_type: 'partner', owner_id: 'bench', name: 'bench' } })).json() as { id: string; secret: string };
const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
console.log(JSON.stringify({ address, token: owner.token, key, database: t.platform.database.kind, cache: t.platform.kv.kind }));
process.on('SIGTERM', () => {
  void t.close().then(() => process.exit(0));
});
