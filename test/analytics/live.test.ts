import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { bootTestApp, bearer, openTestApp, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';

/**
 * The live dashboard socket: authentication by ?token= or the session
 * cookie (refusals are close codes), a snapshot on connect, an `order`
 * message for each order paid and delivered once its transaction committed,
 * none for a rolled-back one; with Redis, an order sold on one instance
 * reaches the sockets of another.
 */
let t: TestApp;
let base: string;
let owner: { token: string; cookie: string };
let skuId: string;
let agentId: string;

interface Message {
  type: string;
  at: string;
  data: Record<string, unknown>;
}

/** A connected client that records every message (or the close code when refused). */
function connect(url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url, { headers });
  const messages: Message[] = [];
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('message', (raw) => messages.push(JSON.parse(raw.toString()) as Message));
  const waitFor = async (pred: (m: Message) => boolean, ms = 8000): Promise<Message> => {
    const until = Date.now() + ms;
    for (;;) {
      const hit = messages.find(pred);
      if (hit) return hit;
      if (Date.now() > until) throw new Error(`no matching message within ${ms} ms; got ${JSON.stringify(messages.map((m) => [m.type, m.data.id, m.data.status]))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { ws, messages, closed, waitFor, close: () => ws.close() };
}

async function sell(app: TestApp, quantity = 1) {
  return app.platform.db.transaction((tx) => app.services.orders.createOrder({ buyer: { type: 'agent', id: agentId }, skuId, quantity, channel: 'admin', payment: 'balance' }, tx));
}

beforeAll(async () => {
  t = await bootTestApp({ env: { SESSION_TTL_MINUTES: '600' } });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const address = t.app.server.address();
  base = `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  owner = await t.loginAs('owner');
  const finance = (await t.loginAs('finance')).token;
  skuId = await createCodeSku(t, { name: 'Live card', retailPriceFen: 1_000, costFen: 700 });
  await stockCodes(t, skuId, 20);
  agentId = (await t.services.agents.create({ name: 'Live agent', role: 'group_leader' })).id;
  await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'agent', buyer_id: agentId, amount_fen: 100_000, reference: 'test' } });
});
afterAll(async () => t?.close());

describe('live dashboard socket', () => {
  it('refuses without a session (4401) and without analytics:read (4403)', async () => {
    expect(await connect(`${base}/admin/live`).closed).toBe(4401);
    expect(await connect(`${base}/admin/live?token=not-a-token`).closed).toBe(4401);
    const support = await t.loginAs('support');
    expect(await connect(`${base}/admin/live?token=${support.token}`).closed).toBe(4403);
  });

  it('sends a snapshot, then each committed order (paid, delivered), never a rolled-back one', async () => {
    const c = connect(`${base}/admin/live?token=${owner.token}`);
    const snapshot = await c.waitFor((m) => m.type === 'snapshot');
    expect(snapshot.data).toMatchObject({ today: { orders: 0, gmv_fen: 0 }, risk_alerts: [], supplier_failures: [] });
    expect(snapshot.data.orders_per_minute).toHaveLength(60);

    let rolledBack = '';
    await expect(
      t.platform.db.transaction(async (tx) => {
        rolledBack = (await t.services.orders.createOrder({ buyer: { type: 'agent', id: agentId }, skuId, quantity: 1, channel: 'admin', payment: 'balance' }, tx)).id;
        throw new Error('rolled back on purpose');
      }),
    ).rejects.toThrow('rolled back on purpose');
    expect(rolledBack).toMatch(/^ord_/);
    const order = await sell(t, 2);
    const paid = await c.waitFor((m) => m.type === 'order' && m.data.id === order.id && m.data.status === 'paid');
    expect(paid.data).toEqual({ id: order.id, status: 'paid', sku_id: skuId, sku_name: '¥100', quantity: 2, amount_fen: 2_000, channel: 'admin' });
    await c.waitFor((m) => m.type === 'order' && m.data.id === order.id && m.data.status === 'delivered');
    expect(c.messages.filter((m) => m.data.id === rolledBack)).toEqual([]);
    expect(c.messages.filter((m) => m.type === 'order').length).toBe(2);
    c.close();
  });

  it('sends an alert message for each stock or risk alert that appeared since the previous snapshot', async () => {
    const c = connect(`${base}/admin/live?token=${owner.token}`);
    await c.waitFor((m) => m.type === 'snapshot');
    await t.services.liveHub.tick(); // the baseline
    const lowSku = await createCodeSku(t, { name: 'Scarce card', lowStockThreshold: 50 });
    await stockCodes(t, lowSku, 3);
    await t.services.inventory.checkLowStock();
    await t.services.alerts.raise({ kind: 'risk', subjectType: 'customer', subjectId: 'cus_x', severity: 'warning', message: 'velocity spike' });
    await t.services.liveHub.tick();
    const snapshot = await c.waitFor((m) => m.type === 'snapshot' && (m.data.stock_alerts as unknown[]).length > 0);
    await c.waitFor((m) => m.type === 'alert' && m.data.kind === 'risk');
    expect(snapshot.data).toMatchObject({ stock_alerts: [{ sku_id: lowSku, sku_name: '¥100', available: 3, threshold: 50 }], risk_alerts: [{ kind: 'risk', message: 'velocity spike' }] });
    expect(c.messages.filter((m) => m.type === 'alert').map((m) => m.data)).toEqual([{ kind: 'stock', message: '¥100: 3 left (threshold 50)' }, { kind: 'risk', message: 'velocity spike' }]);
    await t.services.liveHub.tick(); // nothing new: no alert again
    await c.waitFor((m) => m.type === 'snapshot' && m !== snapshot && (m.data.stock_alerts as unknown[]).length > 0);
    await new Promise((r) => setTimeout(r, 200));
    expect(c.messages.filter((m) => m.type === 'alert')).toHaveLength(2);
    c.close();
  });

  it('authenticates by the session cookie too, and a fresh snapshot counts the order', async () => {
    const c = connect(`${base}/admin/live`, { cookie: owner.cookie });
    const snapshot = await c.waitFor((m) => m.type === 'snapshot');
    expect(snapshot.data).toMatchObject({ today: { orders: 1, gmv_fen: 2_000, gross_profit_fen: 600 } });
    c.close();
  });
});

describe.runIf(Boolean(process.env.REDIS_URL && process.env.DATABASE_URL))('two instances (Redis pub/sub)', () => {
  it("an order sold and applied on instance A reaches a socket on instance B", async () => {
    const b = await openTestApp(t.env);
    try {
      await b.app.listen({ port: 0, host: '127.0.0.1' });
      const addr = b.app.server.address();
      const c = connect(`ws://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/admin/live?token=${owner.token}`);
      await c.waitFor((m) => m.type === 'snapshot');
      // A applies its own change and publishes; B's poller may win the race, so retry until A did it (then only Redis can carry it to B).
      for (let i = 0; i < 5; i++) {
        const order = await sell(t);
        const appliedByA = await t.services.liveHub.drain();
        await c.waitFor((m) => m.type === 'order' && m.data.id === order.id && m.data.status === 'delivered');
        if (appliedByA > 0) break;
        if (i === 4) throw new Error('B applied every change itself: the cross-instance path was never exercised');
      }
      c.close();
    } finally {
      await b.stop();
    }
  });
});
