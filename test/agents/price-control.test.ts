import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';

/** Price control (窜货 prevention): agents' own resale prices never go below a SKU's minimum. */
let t: TestApp;
let owner: string;
beforeAll(async () => {
  t = await bootTestApp();
  owner = (await t.loginAs('owner')).token;
});
afterAll(() => t.close());

async function agentWithKey(name: string) {
  const agent = await t.services.agents.create({ name, role: 'distributor' });
  const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'agent', owner_id: agent.id, name: 'bot' } })).json() as { id: string; secret: string };
  const put = (sku: string, priceFen: number) => {
    const url = `/open/v1/agent/prices/${sku}`;
    const raw = JSON.stringify({ price_fen: priceFen });
    return t.inject({ method: 'PUT', url, payload: raw, headers: { 'content-type': 'application/json', ...signedHeaders(key.id, key.secret, 'PUT', url, raw) } });
  };
  const list = (query = '') => {
    const url = `/open/v1/agent/prices${query}`;
    return t.inject({ method: 'GET', url, headers: signedHeaders(key.id, key.secret, 'GET', url, '') });
  };
  return { agent, put, list };
}

const patchSku = (sku: string, payload: Record<string, unknown>) => t.inject({ method: 'PATCH', url: `/admin/skus/${sku}`, headers: bearer(owner), payload });

describe('minimum resale price', () => {
  it('is set on the SKU (nullable) and may not exceed the retail price', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    const set = await patchSku(sku, { min_resale_price_fen: 9_000 });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toMatchObject({ min_resale_price_fen: 9_000, retail_price_fen: 9_600 });

    const above = await patchSku(sku, { min_resale_price_fen: 9_601 });
    expect([400, 422]).toContain(above.statusCode);
    expect(above.json().error.details).toEqual([expect.objectContaining({ field: 'minResalePriceFen' })]);
    // Lowering the retail price under the minimum is refused the same way.
    const retail = await patchSku(sku, { retail_price_fen: 8_000 });
    expect([400, 422]).toContain(retail.statusCode);
    expect(retail.json().error.details[0].field).toBe('minResalePriceFen');

    const cleared = await patchSku(sku, { min_resale_price_fen: null });
    expect(cleared.json()).toMatchObject({ min_resale_price_fen: null });
    expect((await patchSku(sku, { retail_price_fen: 8_000 })).statusCode).toBe(200);
  });

  it('refuses an agent resale price below the minimum (naming it) and accepts one at or above it', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    await patchSku(sku, { min_resale_price_fen: 9_000 });
    const { agent, put, list } = await agentWithKey('Seller');

    const below = await put(sku, 8_999);
    expect(below.statusCode).toBe(422);
    expect(below.json().error.details).toEqual([expect.objectContaining({ field: 'price_fen', minimum_fen: 9_000 })]);
    expect(below.json().error.message).toContain('9000');
    expect(await t.services.resalePrices.resalePrice(agent.id, sku)).toBeNull();

    const at = await put(sku, 9_000);
    expect(at.statusCode).toBe(200);
    expect(at.json()).toMatchObject({ agent_id: agent.id, sku_id: sku, price_fen: 9_000, min_resale_price_fen: 9_000 });
    expect((await put(sku, 9_500)).json()).toMatchObject({ price_fen: 9_500 });
    expect(await t.services.resalePrices.resalePrice(agent.id, sku)).toMatchObject({ price_fen: 9_500 });

    // Without a minimum any price stands; the list pages by SKU.
    const free = await createCodeSku(t);
    expect((await put(free, 1)).statusCode).toBe(200);
    const first = (await list('?limit=1')).json();
    expect(first.data).toHaveLength(1);
    expect(first.has_more).toBe(true);
    const second = (await list(`?limit=1&cursor=${first.next_cursor}`)).json();
    expect(second.has_more).toBe(false);
    expect([...first.data, ...second.data].map((r: { sku_id: string }) => r.sku_id).sort()).toEqual([sku, free].sort());
  });

  it('only an agent key may set prices', async () => {
    const sku = await createCodeSku(t);
    const res = await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'partner', owner_id: 'partner-price-control', name: 'not an agent' } });
    expect(res.statusCode).toBe(201);
    const key = res.json() as { id: string; secret: string };
    const url = `/open/v1/agent/prices/${sku}`;
    const raw = JSON.stringify({ price_fen: 9_000 });
    const put = await t.inject({ method: 'PUT', url, payload: raw, headers: { 'content-type': 'application/json', ...signedHeaders(key.id, key.secret, 'PUT', url, raw) } });
    expect(put.statusCode).toBe(403);
  });

  it('lists the agents left below a raised minimum', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    const low = await agentWithKey('Low');
    const mid = await agentWithKey('Mid');
    const high = await agentWithKey('High');
    await low.put(sku, 8_000);
    await mid.put(sku, 9_000);
    await high.put(sku, 9_500);
    const violations = (query = '') => t.inject({ method: 'GET', url: `/admin/skus/${sku}/resale-violations${query}`, headers: bearer(owner) });
    expect((await violations()).json()).toEqual({ data: [], has_more: false, next_cursor: null });

    expect((await patchSku(sku, { min_resale_price_fen: 9_200 })).statusCode).toBe(200);
    const all = (await violations()).json();
    expect(all.data.map((v: { agent_id: string }) => v.agent_id).sort()).toEqual([low.agent.id, mid.agent.id].sort());
    expect(all.data[0]).toMatchObject({ min_resale_price_fen: 9_200 });
    const page = (await violations('?limit=1')).json();
    expect(page).toMatchObject({ has_more: true });
    const rest = (await violations(`?limit=1&cursor=${page.next_cursor}`)).json();
    expect([...page.data, ...rest.data].map((v: { agent_id: string }) => v.agent_id).sort()).toEqual([low.agent.id, mid.agent.id].sort());

    // Raising its price clears an agent from the list.
    expect((await mid.put(sku, 9_200)).statusCode).toBe(200);
    expect((await violations()).json().data.map((v: { agent_id: string }) => v.agent_id)).toEqual([low.agent.id]);
  });
});
