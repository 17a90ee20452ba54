/**
 * `npm run supplier:sim`: a local supplier speaking the http_json protocol,
 * for trying procurement by hand. Register it in the admin API with the URL,
 * API key and callback secret printed below; change its behaviour at run
 * time with POST /__control (same bearer key), e.g.
 *   curl -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
 *     -d '{"behaviour":{"asyncMode":true,"duplicateCallbacks":3}}' $URL/__control
 *   -d '{"products":[{"sku":"steam-100","cost_fen":9900}]}'     (price change)
 *   -d '{"behaviour":{"errorRate":0.3,"timeoutRate":{"orders":0.1}}}'
 * Environment: SIM_PORT (4010), SIM_API_KEY, SIM_CALLBACK_SECRET, SIM_SEED.
 */
import { randomBytes } from 'node:crypto';
import { startSupplierSim } from '../test/fakes/supplier-sim/server.js';

const port = Number(process.env.SIM_PORT ?? 4010);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`SIM_PORT must be a port number (got "${process.env.SIM_PORT}")`);
  process.exit(1);
}

const sim = await startSupplierSim({
  port,
  apiKey: process.env.SIM_API_KEY ?? `simkey_${randomBytes(12).toString('hex')}`,
  callbackSecret: process.env.SIM_CALLBACK_SECRET ?? `simcb_${randomBytes(12).toString('hex')}`,
  seed: Number(process.env.SIM_SEED ?? Date.now() % 2 ** 31),
  balanceFen: 5_000_000,
  latencyMs: { min: 20, max: 120 },
  products: [
    { sku: 'steam-100', name: 'Steam wallet ¥100', costFen: 9_300, stock: 500 },
    { sku: 'netease-60', name: 'NetEase points ¥60', costFen: 5_580, stock: 800 },
    { sku: 'iqiyi-vip-month', name: 'iQIYI VIP one month', costFen: 1_650, stock: 2_000 },
    { sku: 'mobile-topup-50', name: 'Mobile top-up ¥50', costFen: 4_880, stock: 100_000, kind: 'topup' },
  ],
});

console.log(`supplier simulator listening on ${sim.url}
  adapter          http_json
  base_url         ${sim.url}
  api_key          ${sim.apiKey}
  callback_secret  ${sim.callbackSecret}
  products         steam-100, netease-60, iqiyi-vip-month, mobile-topup-50 (top-up)
  control          POST ${sim.url}/__control (Authorization: Bearer <api_key>)`);

const stop = async () => {
  await sim.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
