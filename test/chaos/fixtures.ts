/**
 * What the chaos load needs, written once before the app process starts:
 * stocked SKUs, funded agents with API keys, a partner key, funded
 * customers for a flash sale, the supplier simulator registered and mapped,
 * and an owner session. Written through the app's own services (an
 * in-process app on the same database), then closed.
 */
import { openTestApp, bearer } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { newId } from '../../src/lib/ids.js';

export interface Key {
  id: string;
  secret: string;
}

export interface Fixtures {
  ownerToken: string;
  /** Balance orders by agents: codes for the whole run. */
  balanceSku: string;
  agentKeys: (Key & { agentId: string })[];
  partnerKey: Key;
  /** A flash sale: its SKU holds more codes than the sale's units. */
  flashSku: string;
  flashSaleId: string;
  flashUnits: number;
  flashBuyers: number;
  /** WeChat Pay orders (partner key, one new customer each). */
  wechatSku: string;
  /** Bought from the supplier simulator during the supplier fault. */
  supplierSku: string;
  supplierExternalSku: string;
  supplierId: string;
  startStock: Record<string, number>;
}

export const AGENT_START_BALANCE = 50_000_000;
const FLASH_BALANCE = 10_000;

export async function writeFixtures(env: Record<string, string>, supplier: { url: string; apiKey: string; callbackSecret: string; externalSku: string }, sizes: { balanceStock: number; flashUnits: number; flashBuyers: number; wechatStock: number }): Promise<Fixtures> {
  const t = await openTestApp(env);
  try {
    const owner = await t.loginAs('owner');
    const q = async <R>(text: string, values: unknown[] = []) => (await t.platform.database.executeSql<R>(text, values)).rows;

    const balanceSku = await createCodeSku(t, { name: 'chaos balance', retailPriceFen: 1_000, costFen: 700 });
    await stockCodes(t, balanceSku, sizes.balanceStock);
    const agentKeys: Fixtures['agentKeys'] = [];
    for (let i = 0; i < 8; i++) {
      const agent = await t.services.agents.create({ name: `chaos agent ${i}`, role: 'group_leader' });
      const credit = await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(owner.token), payload: { buyer_type: 'agent', buyer_id: agent.id, amount_fen: AGENT_START_BALANCE, reference: 'chaos' } });
      if (credit.statusCode >= 300) throw new Error(`credit failed: ${credit.body}`);
      const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner.token), payload: { owner_type: 'agent', owner_id: agent.id, name: 'chaos' } })).json() as Key;
      agentKeys.push({ id: key.id, secret: key.secret, agentId: agent.id });
    }
    const partnerKey = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner.token), payload: { owner_type: 'partner', owner_id: 'chaos-shop', name: 'chaos' } })).json() as Key;

    // Flash sale buyers: customers with a partner identity, funded in one balanced ledger transaction.
    const flashSku = await createCodeSku(t, { name: 'chaos flash', retailPriceFen: 1_000, costFen: 50 });
    await stockCodes(t, flashSku, sizes.flashUnits + 100);
    const now = t.platform.clock.now();
    const ids = Array.from({ length: sizes.flashBuyers }, () => newId('cus', now));
    await q(`insert into customers (id, display_name, locale, status, created_at) select id, 'chaos', 'zh-CN', 'active', $2::timestamptz from unnest($1::text[]) as u(id)`, [ids, now.toISOString()]);
    await q(
      `insert into customer_identities (id, customer_id, provider, external_id, created_at) select u.iid, u.id, 'partner', u.ext, $4::timestamptz from unnest($1::text[], $2::text[], $3::text[]) as u(id, iid, ext)`,
      [ids, ids.map(() => newId('cid', now)), ids.map((_, i) => `flash-buyer-${i}`), now.toISOString()],
    );
    await t.platform.db.transaction((tx) =>
      t.services.ledger.post(tx, { kind: 'balance_topup', refType: 'manual', refId: 'chaos-flash', postings: [{ account: accounts.cash, amountFen: -FLASH_BALANCE * ids.length }, ...ids.map((id) => ({ account: accounts.customerBalance(id), amountFen: FLASH_BALANCE }))] }),
    );
    const sale = await t.services.flashSales.create(
      { name: 'chaos flash', skuId: flashSku, priceFen: 100, units: sizes.flashUnits, perUserLimit: 1, startsAt: new Date(now.getTime() - 60_000), endsAt: new Date(now.getTime() + 6 * 3_600_000) },
      { id: owner.userId },
      'chaos-flash-sale',
    );

    const wechatSku = await createCodeSku(t, { name: 'chaos wechat', retailPriceFen: 2_500, costFen: 1_500 });
    await stockCodes(t, wechatSku, sizes.wechatStock);

    const supplierSku = await createCodeSku(t, { name: 'chaos supplier', retailPriceFen: 12_000, costFen: 9_300 });
    const created = await t.services.suppliers.createSupplier({ name: 'chaos supplier sim', baseUrl: supplier.url, apiKey: supplier.apiKey, callbackSecret: supplier.callbackSecret, timeoutMs: 1500 }, { id: owner.userId });
    await t.services.suppliers.setSkuSuppliers(supplierSku, [{ supplierId: created.id, externalSku: supplier.externalSku }], { id: owner.userId });

    const stockOf = async (sku: string) => Number((await q<{ n: number }>('select count(*)::int as n from codes where sku_id = $1', [sku]))[0]!.n);
    const startStock: Record<string, number> = {};
    for (const sku of [balanceSku, flashSku, wechatSku, supplierSku]) startStock[sku] = await stockOf(sku);
    return {
      ownerToken: owner.token,
      balanceSku,
      agentKeys,
      partnerKey,
      flashSku,
      flashSaleId: sale.sale.id,
      flashUnits: sizes.flashUnits,
      flashBuyers: sizes.flashBuyers,
      wechatSku,
      supplierSku,
      supplierExternalSku: supplier.externalSku,
      supplierId: created.id,
      startStock,
    };
  } finally {
    await t.stop();
  }
}
