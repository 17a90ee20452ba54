import { randomBytes } from 'node:crypto';
import type { TestApp } from './boot.js';

/** A product with one SKU of stocked codes; returns the SKU id. */
export async function createCodeSku(t: TestApp, opts: { name?: string; retailPriceFen?: number; costFen?: number; reusable?: boolean; maxSalesPerCode?: number; lowStockThreshold?: number } = {}): Promise<string> {
  const product = await t.services.catalog.createProduct({
    name: opts.name ?? `Gift card ${randomBytes(3).toString('hex')}`,
    brand: 'Brand',
    category: 'gift',
    kind: 'code',
    skus: [
      {
        name: '¥100',
        faceValueFen: 10_000,
        costFen: opts.costFen ?? 8_800,
        retailPriceFen: opts.retailPriceFen ?? 9_600,
        reusable: opts.reusable,
        maxSalesPerCode: opts.maxSalesPerCode,
        lowStockThreshold: opts.lowStockThreshold ?? 0,
      },
    ],
  });
  return product.skus[0]!.id;
}

export function randomSecrets(n: number): string[] {
  return Array.from({ length: n }, () => randomBytes(12).toString('base64url'));
}

/** Imports secrets into a SKU through the vault (all or nothing); returns the secrets. */
export async function stockCodes(t: TestApp, skuId: string, n: number, opts: { expiresAt?: Date; secrets?: string[] } = {}): Promise<string[]> {
  const secrets = opts.secrets ?? randomSecrets(n);
  const staff = (await t.services.auth.listStaff({ limit: 1 })).data[0];
  const report = await t.services.vault.importCodes(
    { skuId, supplier: 'test-supplier', unitCostFen: 8_800, expiresAt: opts.expiresAt, mode: 'all_or_nothing', source: 'text' },
    (async function* () {
      let line = 0;
      for (const secret of secrets) yield { line: ++line, secret };
    })(),
    { id: staff?.id ?? 'stf_test', type: 'system' },
  );
  if (report.status !== 'completed') throw new Error(`stocking failed: ${JSON.stringify(report.rejections.slice(0, 3))}`);
  return secrets;
}
