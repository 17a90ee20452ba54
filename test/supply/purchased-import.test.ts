import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, type TestApp } from '../helpers/boot.js';
import { createCodeSku, randomSecrets } from '../helpers/codes.js';

let t: TestApp;
beforeAll(async () => {
  t = await bootTestApp();
});
afterAll(() => t.close());

describe('codes bought from a supplier', () => {
  it('are stored once per purchase reference, however often the delivery is retried', async () => {
    const sku = await createCodeSku(t);
    const codes = randomSecrets(5).map((secret) => ({ secret }));
    const input = { skuId: sku, supplierId: 'sup_x', unitCostFen: 8_000, codes, ref: 'pur_1:1' };
    const first = await t.services.vault.importPurchasedCodes(input);
    expect(first.count).toBe(5);
    const results = await Promise.all([t.services.vault.importPurchasedCodes(input), t.services.vault.importPurchasedCodes(input)]);
    expect(results).toEqual([first, first]);
    const rows = (await t.platform.database.executeSql<{ n: number }>('select count(*)::int as n from codes where sku_id = $1', [sku])).rows;
    expect(Number(rows[0]!.n)).toBe(5);
  });

  it('a different reference with the same secrets is refused', async () => {
    const sku = await createCodeSku(t);
    const codes = randomSecrets(2).map((secret) => ({ secret }));
    await t.services.vault.importPurchasedCodes({ skuId: sku, supplierId: 'sup_x', unitCostFen: 1, codes, ref: 'pur_2:1' });
    await expect(t.services.vault.importPurchasedCodes({ skuId: sku, supplierId: 'sup_x', unitCostFen: 1, codes, ref: 'pur_3:1' })).rejects.toMatchObject({ code: 'CONFLICT' });
  });
});
