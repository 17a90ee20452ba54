import type { Platform } from '../platform.js';
import type { Services } from '../services.js';
import { hmacSha256Hex } from '../lib/crypto.js';

/**
 * The demo's upstream supplier: the supplier simulator (test/fakes), started
 * in-process on a fixed local port, with credentials derived from this
 * installation's HMAC key so that they survive restarts. Not part of a
 * production build: when the simulator is not there, the demo goes without.
 */
export interface DemoSupplier {
  url: string;
  apiKey: string;
  callbackSecret: string;
  close(): Promise<void>;
}

export const demoSupplierProducts = [
  { sku: 'steam-100', name: 'Steam wallet ¥100', costFen: 8_700, stock: 500 },
  { sku: 'tencent-video-month', name: 'Tencent Video VIP month', costFen: 2_050, stock: 1_000 },
  { sku: 'hok-60', name: 'Honor of Kings 60 coupons (top-up)', costFen: 540, stock: 100_000, kind: 'topup' as const },
];

export async function startDemoSupplier(p: Platform, port: number): Promise<DemoSupplier | null> {
  const modulePath = '../../test/fakes/supplier-sim/server.js';
  let start: typeof import('../../test/fakes/supplier-sim/server.js').startSupplierSim;
  try {
    ({ startSupplierSim: start } = (await import(modulePath)) as typeof import('../../test/fakes/supplier-sim/server.js'));
  } catch {
    p.logger.warn('supplier simulator not available in this build; the demo runs without an upstream supplier');
    return null;
  }
  const apiKey = `sim_${hmacSha256Hex(p.hmacKey, 'demo-supplier-api-key').slice(0, 32)}`;
  const callbackSecret = `simcb_${hmacSha256Hex(p.hmacKey, 'demo-supplier-callback').slice(0, 32)}`;
  try {
    const sim = await start({ port, apiKey, callbackSecret, balanceFen: 5_000_000, latencyMs: { min: 20, max: 150 }, asyncMode: true, asyncDelayMs: 800, products: demoSupplierProducts });
    return { url: sim.url, apiKey, callbackSecret, close: () => sim.close() };
  } catch (err) {
    p.logger.warn({ err, port }, 'could not start the demo supplier simulator (port taken?); the demo runs without it');
    return null;
  }
}

/** On first start: register the simulator as a supplier and route two demo SKUs to it. */
export async function registerDemoSupplier(s: Services, sim: DemoSupplier, skus: { steam?: string; tencentVideo?: string; hokTopup?: string }, actor: { id: string }) {
  const supplier = await s.suppliers.createSupplier({ name: 'Demo supplier (simulator)', baseUrl: sim.url, apiKey: sim.apiKey, callbackSecret: sim.callbackSecret, timeoutMs: 3000 }, actor);
  const routes: [string | undefined, string][] = [
    [skus.steam, 'steam-100'],
    [skus.tencentVideo, 'tencent-video-month'],
    [skus.hokTopup, 'hok-60'],
  ];
  for (const [skuId, externalSku] of routes) if (skuId) await s.suppliers.setSkuSuppliers(skuId, [{ supplierId: supplier.id, externalSku }], actor);
  await s.suppliers.syncSupplier(supplier.id).catch(() => undefined);
  return supplier;
}
