import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, type TestApp } from '../helpers/boot.js';
import { seedDemo } from '../../src/seed/demo.js';

let t: TestApp;
beforeAll(async () => {
  t = await bootTestApp();
});
afterAll(() => t.close());

describe('demo seed', () => {
  it('seeds staff of every role, products with encrypted codes and a three-level agent tree, once', async () => {
    const first = await seedDemo(t.platform, t.services, { password: 'demo-password-123' });
    expect(first.seeded).toBe(true);
    expect(first.logins.map((l) => l.role)).toEqual(['owner', 'operations', 'finance', 'risk', 'support', 'readonly']);
    expect((await seedDemo(t.platform, t.services, { password: 'demo-password-123' })).seeded).toBe(false);

    const products = await t.services.catalog.listProducts({ limit: 20 });
    expect(products.data).toHaveLength(4);
    const leaders = await t.services.agents.list({ limit: 20 });
    const byDepth = leaders.data.sort((a, b) => a.depth - b.depth);
    expect(byDepth.map((a) => a.role)).toEqual(['distributor', 'sub_agent', 'group_leader']);
    expect(byDepth[1]!.parent_id).toBe(byDepth[0]!.id);
    expect(byDepth[2]!.parent_id).toBe(byDepth[1]!.id);
    const downline = await t.services.agents.list({ limit: 20, underAgentId: byDepth[0]!.id });
    expect(downline.data).toHaveLength(2);

    // Marketing: a campaign with a new-user pack (the demo customer holds it), a claimable coupon, a running flash sale, a recharge bonus.
    const campaigns = await t.services.campaigns.list({ limit: 10 });
    expect(campaigns.data).toHaveLength(1);
    const customer = (await t.services.customers.list({ limit: 5 })).data[0]!;
    const coupons = await t.services.coupons.listCoupons({ limit: 10, customerId: customer.id });
    expect(coupons.data.map((c) => c.state)).toEqual(['available']);
    const sales = await t.services.flashSales.list({ limit: 10 });
    expect(sales.data.map((f) => [f.status, f.units])).toEqual([['active', 10]]);
  });

  it('codes are sealed at rest, decrypt only through the vault, and duplicates are refused by keyed hash', async () => {
    const rows = (await t.platform.database.executeSql<{ id: string; sku_id: string; last4: string; sealed: Buffer | Uint8Array; secret_hmac: string }>('select id, sku_id, last4, sealed, secret_hmac from codes limit 5')).rows;
    expect(rows).toHaveLength(5);
    const owner = (await t.services.auth.listStaff({ limit: 10 })).data.find((s) => s.role === 'owner')!;
    for (const row of rows) {
      const plain = await t.services.vault.open(row.id);
      expect(plain.secret.endsWith(row.last4)).toBe(true);
      expect(Buffer.from(row.sealed).toString('latin1')).not.toContain(plain.secret);
      expect(row.secret_hmac).toBe(t.services.vault.secretHmac(plain.secret));
    }
    const dup = await t.services.vault.open(rows[0]!.id);
    const report = await t.services.vault.importCodes(
      { skuId: rows[0]!.sku_id, supplier: 's', unitCostFen: 1, mode: 'all_or_nothing', source: 'text' },
      (async function* () {
        yield { line: 1, secret: dup.secret };
      })(),
      { id: owner.id },
    );
    expect(report).toMatchObject({ status: 'rejected', accepted: 0, rejections: [{ line: 1, reason: 'duplicate: already in the vault' }] });
  });

  it('a sealed code copied onto another row does not decrypt (bound to its id)', async () => {
    const rows = (await t.platform.database.executeSql<{ id: string }>('select id from codes order by id limit 2')).rows;
    await t.platform.database.executeSql(`update codes set sealed = (select sealed from codes where id = $1) where id = $2`, [rows[0]!.id, rows[1]!.id]);
    await expect(t.services.vault.open(rows[1]!.id)).rejects.toThrow();
  });
});
