import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';

/** Freezing an agent stops its sales at once; codes found outside are traced back to their order and agent chain. */
let t: TestApp;
let owner: string;
let risk: string;
beforeAll(async () => {
  t = await bootTestApp();
  owner = (await t.loginAs('owner')).token;
  risk = (await t.loginAs('risk')).token;
});
afterAll(() => t.close());

async function tree() {
  const distributor = await t.services.agents.create({ name: 'Distributor', role: 'distributor' });
  const sub = await t.services.agents.create({ name: 'Sub-agent', role: 'sub_agent', parentId: distributor.id });
  const leader = await t.services.agents.create({ name: 'Group leader', role: 'group_leader', parentId: sub.id });
  await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(owner), payload: { buyer_type: 'agent', buyer_id: leader.id, amount_fen: 100_000, reference: 'bank transfer' } });
  const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'agent', owner_id: leader.id, name: 'bot' } })).json() as { id: string; secret: string };
  const buy = (sku: string, idem: string) => {
    const raw = JSON.stringify({ sku_id: sku, quantity: 2, payment: 'balance' });
    return t.inject({ method: 'POST', url: '/open/v1/orders', payload: raw, headers: { 'content-type': 'application/json', 'idempotency-key': idem, ...signedHeaders(key.id, key.secret, 'POST', '/open/v1/orders', raw) } });
  };
  return { distributor, sub, leader, buy };
}

describe('freezing an agent', () => {
  it('stops its purchases at once, reports its downline, and unfreezing restores them (audited)', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 1_000 });
    await stockCodes(t, sku, 10);
    const { distributor, sub, leader, buy } = await tree();
    expect((await buy(sku, 'freeze-before-1')).statusCode).toBe(201);

    const frozen = await t.inject({ method: 'POST', url: `/admin/agents/${sub.id}/freeze`, headers: bearer(owner), payload: { reason: 'dumping codes on a marketplace' } });
    expect(frozen.statusCode).toBe(200);
    expect(frozen.json()).toMatchObject({ agent: { id: sub.id, status: 'frozen' }, downline: { count: 1, agents: [{ id: leader.id }], truncated: false } });
    expect((await t.inject({ method: 'POST', url: `/admin/agents/${sub.id}/freeze`, headers: bearer(owner), payload: { reason: 'again' } })).statusCode).toBe(409);
    // The downline keeps working (reported for staff to decide), the frozen agent itself cannot buy.
    expect((await buy(sku, 'freeze-leader-ok')).statusCode).toBe(201);
    await t.inject({ method: 'POST', url: `/admin/agents/${leader.id}/freeze`, headers: bearer(owner), payload: { reason: 'sells for the frozen sub-agent' } });
    const refused = await buy(sku, 'freeze-refused-1');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.message).toMatch(/frozen/);
    const unfrozen = await t.inject({ method: 'POST', url: `/admin/agents/${leader.id}/unfreeze`, headers: bearer(owner), payload: { reason: 'cleared after review' } });
    expect(unfrozen.json()).toMatchObject({ status: 'active' });
    expect((await buy(sku, 'freeze-after-1')).statusCode).toBe(201);

    expect((await t.inject({ method: 'POST', url: `/admin/agents/${distributor.id}/freeze`, headers: bearer(risk), payload: { reason: 'not my role' } })).statusCode).toBe(403);
    const audit = await t.platform.database.executeSql<{ action: string }>(`select action from audit_log where target_id in ($1, $2) and action like 'agent.%' order by seq`, [sub.id, leader.id]);
    expect(audit.rows.map((r) => r.action)).toEqual(['agent.freeze', 'agent.freeze', 'agent.unfreeze']);
  });
});

describe('tracing leaked codes (窜货)', () => {
  it('pasted codes or their last characters lead to the order and the agent chain; a repeat seller is flagged', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 1_000 });
    await stockCodes(t, sku, 8);
    const { distributor, sub, leader, buy } = await tree();
    const first = (await buy(sku, 'leak-order-1')).json() as { order: { id: string }; codes: { code_id: string; secret: string }[] };
    const second = (await buy(sku, 'leak-order-2')).json() as { order: { id: string }; codes: { code_id: string; secret: string }[] };

    const res = await t.inject({ method: 'POST', url: '/admin/tracing/leaks', headers: bearer(risk), payload: { codes: [first.codes[0]!.secret, 'NOT-OUR-CODE-123'], source: 'https://market.example/listing/1' } });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { codes: { found: boolean; input: string; code?: { id: string }; order?: { id: string }; chain: { level: number; agent_id: string }[] }[]; flagged_agents: string[] };
    expect(body.codes[0]).toMatchObject({ found: true, code: { id: first.codes[0]!.code_id }, order: { id: first.order.id } });
    expect(body.codes[0]!.chain.map((c) => [c.level, c.agent_id])).toEqual([[1, leader.id], [2, sub.id], [3, distributor.id]]);
    expect(body.codes[1]).toMatchObject({ found: false, chain: [] });
    // The pasted secrets are not echoed back.
    expect(res.body).not.toContain(first.codes[0]!.secret);
    expect(res.body).not.toContain('NOT-OUR-CODE-123');
    expect(body.flagged_agents).toEqual([]);

    // By SKU and last characters, then two more codes: the seller reaches the threshold and is flagged.
    const tail = second.codes[0]!.secret.slice(-4);
    const byTail = await t.inject({ method: 'POST', url: '/admin/tracing/leaks', headers: bearer(risk), payload: { tails: [{ sku_id: sku, last4: tail }] } });
    expect(byTail.json().codes.some((c: { code?: { id: string } }) => c.code?.id === second.codes[0]!.code_id)).toBe(true);
    const more = await t.inject({ method: 'POST', url: '/admin/tracing/leaks', headers: bearer(risk), payload: { codes: [second.codes[1]!.secret, first.codes[1]!.secret] } });
    expect(more.json().flagged_agents).toEqual([leader.id]);
    expect(more.json().codes[0].seller_leaks_30d).toBeGreaterThanOrEqual(3);
    const alerts = await t.platform.database.executeSql<{ subject_id: string }>(`select subject_id from alerts where kind = 'risk' and subject_type = 'agent' and cleared_at is null`);
    expect(alerts.rows.map((r) => r.subject_id)).toContain(leader.id);

    expect((await t.inject({ method: 'POST', url: '/admin/tracing/leaks', headers: bearer(risk), payload: {} })).statusCode).toBe(400);
    const support = (await t.loginAs('support')).token;
    expect((await t.inject({ method: 'POST', url: '/admin/tracing/leaks', headers: bearer(support), payload: { codes: ['x1234'] } })).statusCode).toBe(403);
  });
});
