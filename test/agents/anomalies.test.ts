import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { ManualClock, DAY } from '../../src/lib/clock.js';
import { jobDefinitions } from '../../src/modules/jobs/definitions.js';

/**
 * Agent anomaly flags. Every sale here is a real order paid from the agent's
 * balance (createOrder in a transaction) and every refund a real refund: the
 * volumes the rules need are reached with few, large orders.
 */
const clock = new ManualClock(new Date());
let t: TestApp;
beforeAll(async () => {
  t = await bootTestApp({ clock });
});
afterAll(() => t.close());

const staff = { id: 'stf_test', type: 'system' as const };

async function agent(name: string, opts: { parentId?: string; customerId?: string } = {}) {
  const a = await t.services.agents.create({ name, role: opts.parentId ? 'sub_agent' : 'distributor', ...opts });
  await t.services.orders.creditBalance({ type: 'agent', id: a.id }, 10_000_000, `topup-${a.id}`, staff);
  return a;
}

const buy = (agentId: string, skuId: string, quantity: number) =>
  t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'agent', id: agentId }, skuId, quantity, channel: 'admin', payment: 'balance' }, tx));

const rulesOf = (flags: { agentId: string; rule: string }[], id: string) => flags.filter((f) => f.agentId === id).map((f) => f.rule);

describe('agent anomaly flags', () => {
  it('raise a risk alert for each agent that breaks a rule, and for no other', async () => {
    const big = await createCodeSku(t, { retailPriceFen: 100_000, costFen: 90_000 });
    const small = await createCodeSku(t, { retailPriceFen: 1_000, costFen: 800 });
    await stockCodes(t, big, 13);
    await stockCodes(t, small, 21);

    // Sales spike: a steady seller with history, and one whose last day jumps from nothing.
    const steadySeller = await agent('Steady seller');
    const spiky = await agent('Spiky');
    await buy(steadySeller.id, big, 10); // 1,000,000 fen, 2 days ago
    clock.advance(2 * DAY);
    await buy(steadySeller.id, big, 1); // 100,000 in 24 h against a daily average of 33,333: under 5x
    await buy(spiky.id, big, 2); // 200,000 in 24 h, no history

    // Refund rate over 10 orders: 3 of 10 refunded (30%) is flagged, 2 of 10 (20%) is not.
    const refunder = await agent('Refunder');
    const careful = await agent('Careful');
    for (const [a, refunds] of [[refunder, 3], [careful, 2]] as const) {
      for (let i = 0; i < 10; i++) {
        const order = await buy(a.id, small, 1);
        if (i < refunds) await t.services.orders.refund(order.id, { reason: 'test refund' }, staff);
      }
    }
    // One order short of the minimum count is never flagged, whatever its refunds.
    const fewOrders = await agent('Few orders');
    const only = await buy(fewOrders.id, small, 1);
    await t.services.orders.refund(only.id, { reason: 'test refund' }, staff);

    // Self-referral: an agent sharing its upline's customer account.
    const c1 = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: 'anomaly-1' } });
    const c2 = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: 'anomaly-2' } });
    const upline = await agent('Upline', { customerId: c1.customerId });
    const selfReferred = await agent('Same person', { parentId: upline.id, customerId: c1.customerId });
    const honest = await agent('Honest recruit', { parentId: upline.id, customerId: c2.customerId });

    const flags = await t.services.agentAnomalies.check();
    expect(rulesOf(flags, spiky.id)).toEqual(['sales_spike']);
    expect(rulesOf(flags, refunder.id)).toEqual(['refund_rate']);
    expect(rulesOf(flags, selfReferred.id)).toEqual(['self_referral']);
    for (const ok of [steadySeller, careful, fewOrders, upline, honest]) expect(rulesOf(flags, ok.id)).toEqual([]);
    expect(new Set(flags.map((f) => f.agentId))).toEqual(new Set([spiky.id, refunder.id, selfReferred.id]));

    const spikeAlert = await t.services.alerts.openAlert('risk', spiky.id);
    expect(spikeAlert).toMatchObject({ subject_type: 'agent', severity: 'warning' });
    expect(spikeAlert!.message).toContain('sales_spike');
    expect(spikeAlert!.message).toContain('200000');
    const refundAlert = await t.services.alerts.openAlert('risk', refunder.id);
    expect(refundAlert!.message).toMatch(/refund_rate: 3000 of 10000 fen refunded \(30%.*10 orders/);
    expect((await t.services.alerts.openAlert('risk', selfReferred.id))!.message).toContain(upline.id);
    expect(await t.services.alerts.openAlert('risk', careful.id)).toBeNull();

    // Running again refreshes the same alerts instead of piling up new ones.
    await t.services.agentAnomalies.check();
    const open = await t.services.alerts.list({ limit: 100, open: true, kind: 'risk' });
    expect(open.data.filter((a) => a.subject_id === spiky.id)).toHaveLength(1);

    // A day later the spike is history: the last 24 h are empty.
    clock.advance(DAY + 1);
    expect(rulesOf(await t.services.agentAnomalies.check(), spiky.id)).toEqual([]);
  });

  it('flag an agent whose buyers share a device (seen by the risk gate), not one whose buyers each have their own', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 1_000, costFen: 800 });
    await stockCodes(t, sku, 6);
    const farmed = await agent('Farmed shop');
    const genuine = await agent('Genuine shop');
    for (const [seller, devices] of [[farmed, ['farm-phone', 'farm-phone', 'farm-phone']], [genuine, ['dev-a', 'dev-b', 'dev-c']]] as const) {
      for (let i = 0; i < 3; i++) {
        const c = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: `${seller.id}-buyer-${i}` } });
        await t.services.orders.creditBalance({ type: 'customer', id: c.customerId }, 10_000, `topup-${c.customerId}`, staff);
        // The gate sees each buyer's device when it assesses the order (as the HTTP channels do), then the order is placed.
        await t.services.risk.assess({ action: 'order', account: { type: 'customer', id: c.customerId }, ip: `198.51.100.${i + 1}`, deviceId: devices[i]!, amountFen: 1_000 });
        await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'customer', id: c.customerId }, agentId: seller.id, skuId: sku, quantity: 1, channel: 'admin', payment: 'balance' }, tx));
      }
    }
    await t.services.risk.flush();
    const flags = await t.services.agentAnomalies.check();
    expect(rulesOf(flags, farmed.id)).toEqual(['shared_devices']);
    expect(rulesOf(flags, genuine.id)).toEqual([]);
    expect(flags.find((f) => f.agentId === farmed.id)!.details).toMatchObject({ device_id: 'farm-phone', buyers_on_device: 3 });
    expect((await t.services.alerts.openAlert('risk', farmed.id))!.message).toContain('shared_devices');
  });

  it('runs hourly as a job', () => {
    const job = jobDefinitions(t.services, t.config).find((j) => j.name === 'agents.check-anomalies');
    expect(job).toMatchObject({ cron: '29 * * * *' });
  });
});
