/**
 * The faults, one function each. Each injects its fault under the running
 * load, clears it, and returns when the fault is cleared; the run then waits
 * for recovery and checks the invariants.
 */
import type { FakeWeChatPay } from '../fakes/wechat-pay/server.js';
import type { SupplierSim } from '../fakes/supplier-sim/server.js';
import type { AppProcess } from './app-process.js';
import type { Fixtures } from './fixtures.js';
import type { GarbageProxy } from './garbage-proxy.js';
import { send, signedPost, classify, type Load } from './load.js';
import type { PrivatePostgres, PrivateRedis } from './servers.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface World {
  app: AppProcess;
  pg: PrivatePostgres;
  redis: PrivateRedis;
  wx: FakeWeChatPay;
  sim: SupplierSim;
  proxy: GarbageProxy;
  fx: Fixtures;
  load: Load;
  redisDownMs: number;
  log(line: string): void;
}

/** Recovery is counted from the kill: restarting is part of it (a supervisor would restart at once). */
export async function killApp(w: World): Promise<number> {
  await sleep(1500 + Math.random() * 1000);
  const at = Date.now();
  await w.app.kill();
  w.log('  app SIGKILLed with requests in flight; restarting');
  await w.app.start();
  return at;
}

export async function restartPostgres(w: World): Promise<number> {
  const at = Date.now();
  await w.pg.restartImmediate();
  return at;
}

export async function redisOutage(w: World) {
  await w.redis.stop();
  w.log(`  redis-server killed; down for ${w.redisDownMs / 1000} s`);
  await sleep(w.redisDownMs);
  await w.redis.start();
}

const purchaseIds = Array.from({ length: 16 }, (_, i) => `chaos-pur-${i}`);

/** Purchases while the supplier times out (having taken the order or not) or answers garbage; then it heals. */
export async function supplierMisbehaves(w: World) {
  w.sim.control.configure({ timeoutRate: { orders: 0.35, query: 0.25 }, timeoutTakesOrder: true, hangMs: 3_000 });
  w.proxy.garbageRate = 0.4;
  for (const id of purchaseIds) {
    const a = await send(w.app.url, { method: 'POST', path: '/admin/supplier-purchases', headers: { authorization: `Bearer ${w.fx.ownerToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ purchase_id: id, sku_id: w.fx.supplierSku, quantity: 2 }) });
    const c = classify(a);
    w.load.record({ kind: 'admin', status: a.status, ...c });
    w.log(`  purchase ${id}: ${a.status} ${(a.body?.status as string | undefined) ?? c.code ?? ''}`);
  }
  w.log(`  supplier: ${w.proxy.garbled} answers garbled, ${w.sim.control.orders().length} orders taken by the simulator`);
  w.sim.control.configure({ timeoutRate: 0, hangMs: 30_000 });
  w.proxy.garbageRate = 0;
}

/** After the supplier heals: the same purchase ids again (idempotent), until every try is settled by the app or its poll job. */
export async function settlePurchases(w: World, deadlineMs = 150_000): Promise<string[]> {
  const t0 = Date.now();
  let open: string[] = [...purchaseIds];
  while (open.length && Date.now() - t0 < deadlineMs) {
    const still: string[] = [];
    for (const id of open) {
      const a = await send(w.app.url, { method: 'POST', path: '/admin/supplier-purchases', headers: { authorization: `Bearer ${w.fx.ownerToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ purchase_id: id, sku_id: w.fx.supplierSku, quantity: 2 }) });
      const status = a.body?.status as string | undefined;
      if (status !== 'succeeded' && status !== 'failed') still.push(id);
    }
    open = still;
    if (open.length) await sleep(5_000);
  }
  return open;
}

/** WeChat orders paid now but not confirmed: the deadline job cancels them; WeChat confirms much later (callbacksOutOfTime). */
export async function createLatePayers(w: World, n: number): Promise<{ tradeNo: string; orderId: string }[]> {
  const out: { tradeNo: string; orderId: string }[] = [];
  for (let i = 0; i < n; i++) {
    const idem = `chaos-late-${i}-${Date.now()}`;
    const a = await signedPost(w.app.url, w.fx.partnerKey, '/open/v1/orders', { sku_id: w.fx.wechatSku, quantity: 1, payment: 'wechat', payer_openid: `o-late-${i}`, customer: { provider: 'partner', external_id: `late-buyer-${idem}` } }, idem);
    const tradeNo = (a.body?.payment as { trade_no?: string } | undefined)?.trade_no;
    const orderId = (a.body?.order as { id?: string } | undefined)?.id;
    if (!tradeNo || !orderId) throw new Error(`a late payer's order was not created: ${a.status} ${JSON.stringify(a.body).slice(0, 200)}`);
    // Paid in time, but WeChat still shows it in progress when asked at the deadline (the payer was entering a
    // password): the order is cancelled, and the money is confirmed much later.
    w.wx.pay(tradeNo);
    w.wx.setState(tradeNo, 'USERPAYING');
    out.push({ tradeNo, orderId });
  }
  return out;
}

async function orderStatus(w: World, id: string): Promise<string | undefined> {
  const a = await send(w.app.url, { method: 'GET', path: `/admin/orders/${id}`, headers: { authorization: `Bearer ${w.fx.ownerToken}` } });
  return a.body?.status as string | undefined;
}

/**
 * Payment notifications out of their time: a burst of fresh payments notified
 * in reverse order, four copies each at once; old, already applied ones sent
 * again; and the late payers, whose orders the deadline job cancelled long
 * ago (the stand-in for "hours later"), paid at WeChat and notified now.
 */
export async function callbacksOutOfTime(w: World, late: { tradeNo: string; orderId: string }[]): Promise<string[]> {
  const notes: string[] = [];
  for (const l of late) {
    for (let i = 0; i < 60 && (await orderStatus(w, l.orderId)) !== 'cancelled'; i++) await sleep(3_000);
    notes.push(`${l.orderId} ${await orderStatus(w, l.orderId)} before its payment arrived`);
  }
  const burst: string[] = [];
  for (let i = 0; i < 6; i++) {
    const idem = `chaos-burst-${i}-${Date.now()}`;
    const a = await signedPost(w.app.url, w.fx.partnerKey, '/open/v1/orders', { sku_id: w.fx.wechatSku, quantity: 1, payment: 'wechat', payer_openid: `o-burst-${i}`, customer: { provider: 'partner', external_id: `burst-${idem}` } }, idem);
    const tradeNo = (a.body?.payment as { trade_no?: string } | undefined)?.trade_no;
    const orderId = (a.body?.order as { id?: string } | undefined)?.id;
    if (tradeNo && orderId) {
      w.wx.pay(tradeNo);
      burst.push(tradeNo);
      // acked: true keeps the steady notifier off these; sent below, and counted as paid by the checks.
      w.load.trades.set(tradeNo, { orderId, paid: true, acked: true });
    }
  }
  const url = `${w.app.url}/payments/notify/wechat`;
  const record = (statuses: (number | 'error')[]) => {
    for (const s of statuses) w.load.record({ kind: 'notify', status: s === 'error' ? 0 : s, outcome: s !== 'error' && s >= 200 && s < 300 ? 'ok' : 'failed' });
  };
  for (const no of [...burst].reverse()) record(await w.wx.sendNotification(no, { url, times: 4, concurrent: true }));
  const old = [...w.load.trades.entries()].filter(([no, t]) => t.acked && !burst.includes(no)).slice(0, 10);
  await Promise.all(old.map(async ([no]) => record(await w.wx.sendNotification(no, { url, times: 2, concurrent: true }))));
  for (const l of late) {
    w.wx.setState(l.tradeNo, 'SUCCESS');
    w.load.trades.set(l.tradeNo, { orderId: l.orderId, paid: true, acked: false });
  }
  await Promise.all(late.map(async (l) => {
    const s = await w.wx.sendNotification(l.tradeNo, { url, times: 3, concurrent: true });
    record(s);
    if (s.some((x) => x !== 'error' && x >= 200 && x < 300)) w.load.trades.get(l.tradeNo)!.acked = true;
  }));
  for (const l of late) notes.push(`${l.orderId} after its late payment: ${await orderStatus(w, l.orderId)}`);
  return notes;
}
