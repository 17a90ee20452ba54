/**
 * A steady order load against the app process, through its public HTTP faces
 * only: agents buying with their balance (signed open API, one
 * Idempotency-Key per order), customers in a flash sale, and WeChat Pay
 * orders completed by the fake WeChat Pay's notifications (duplicated and
 * reordered; redelivered until acknowledged, as WeChat does). Every request
 * is recorded with its time and outcome: ok (2xx), refused (a 4xx or 503
 * with an error code: the platform said no, clearly) or failed (anything
 * else: 5xx, a dropped connection, no answer in 10 s).
 */
import { randomBytes } from 'node:crypto';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import type { FakeWeChatPay } from '../fakes/wechat-pay/server.js';
import type { Fixtures, Key } from './fixtures.js';

export type Outcome = 'ok' | 'refused' | 'failed';
export interface Sample {
  at: number;
  kind: 'balance' | 'flash' | 'wechat' | 'notify' | 'admin';
  outcome: Outcome;
  status: number;
  code?: string;
}

export interface HttpAnswer {
  status: number;
  body: Record<string, unknown> | null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function classify(a: HttpAnswer): { outcome: Outcome; code?: string } {
  const code = ((a.body?.error as { code?: string } | undefined)?.code) ?? undefined;
  if (a.status >= 200 && a.status < 300) return { outcome: 'ok' };
  if (a.status === 0) return { outcome: 'failed', code: 'NETWORK' };
  if (code && ((a.status >= 400 && a.status < 500) || a.status === 503)) return { outcome: 'refused', code };
  return { outcome: 'failed', code: code ?? `HTTP_${a.status}` };
}

export async function send(url: string, init: { method: string; path: string; headers?: Record<string, string>; body?: string }): Promise<HttpAnswer> {
  try {
    const res = await fetch(url + init.path, { method: init.method, headers: init.headers, body: init.body, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    let body: Record<string, unknown> | null = null;
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : null;
    } catch {
      body = null;
    }
    return { status: res.status, body };
  } catch {
    return { status: 0, body: null };
  }
}

/** A signed open-API POST with an Idempotency-Key. */
export function signedPost(url: string, key: Key, path: string, payload: unknown, idempotencyKey: string) {
  const body = JSON.stringify(payload);
  const nonce = `ch${Date.now().toString(36)}${randomBytes(10).toString('hex')}`;
  return send(url, { method: 'POST', path, body, headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey, ...signedHeaders(key.id, key.secret, 'POST', path, body, new Date(), nonce) } });
}

/** A write the client has not seen answered: retried later with the same key, as a real client would. */
export interface Unanswered {
  kind: 'balance' | 'flash';
  key: Key;
  path: string;
  payload: unknown;
  idempotencyKey: string;
}

export interface Load {
  samples: Sample[];
  /** Order id -> code ids the client received with it. */
  codesByOrder: Map<string, string[]>;
  /** Idempotency key -> the order id its 2xx answer named. */
  orderByKey: Map<string, string>;
  /** Answered balance orders: what was sent, to send again. */
  sent: Map<string, Unanswered>;
  unanswered: Unanswered[];
  /** WeChat trades created, and which of them the fake reports paid. */
  trades: Map<string, { orderId: string; paid: boolean; acked: boolean }>;
  flashOk: Set<string>;
  stop(): Promise<void>;
  /** No new orders; the notifier goes on until every paid trade is acknowledged (or timeoutMs). */
  quiesce(timeoutMs: number): Promise<void>;
  /** Stop sending new requests until resume() (in-flight ones finish). */
  pause(): Promise<void>;
  resume(): void;
  record(s: Omit<Sample, 'at'>): void;
}

export function startLoad(appUrl: string, fx: Fixtures, wx: FakeWeChatPay, opts: { balanceWorkers: number; paceMs: number }): Load {
  const samples: Sample[] = [];
  const codesByOrder = new Map<string, string[]>();
  const orderByKey = new Map<string, string>();
  const sent = new Map<string, Unanswered>();
  const unanswered: Unanswered[] = [];
  const trades = new Map<string, { orderId: string; paid: boolean; acked: boolean }>();
  const flashOk = new Set<string>();
  let stopped = false;
  let paused = false;
  let inFlight = 0;
  let seq = 0;
  const record = (s: Omit<Sample, 'at'>) => samples.push({ at: Date.now(), ...s });

  const track = async <T>(fn: () => Promise<T>): Promise<T> => {
    inFlight++;
    try {
      return await fn();
    } finally {
      inFlight--;
    }
  };

  const remember = (idem: string, a: HttpAnswer) => {
    const order = a.body?.order as { id?: string } | undefined;
    if (!order?.id) return;
    orderByKey.set(idem, order.id);
    const codes = (a.body?.codes as { code_id: string }[] | undefined) ?? [];
    if (codes.length) codesByOrder.set(order.id, codes.map((c) => c.code_id));
  };

  async function balanceOnce() {
    const key = fx.agentKeys[seq % fx.agentKeys.length]!;
    const idem = `chaos-bal-${++seq}-${randomBytes(4).toString('hex')}`;
    const payload = { sku_id: fx.balanceSku, quantity: 1 + (seq % 2), payment: 'balance' };
    const a = await signedPost(appUrl, key, '/open/v1/orders', payload, idem);
    const c = classify(a);
    record({ kind: 'balance', status: a.status, ...c });
    const request: Unanswered = { kind: 'balance', key, path: '/open/v1/orders', payload, idempotencyKey: idem };
    if (c.outcome === 'ok') {
      remember(idem, a);
      sent.set(idem, request);
    } else if (c.outcome === 'failed' || a.status === 503) unanswered.push(request);
  }

  async function flashOnce() {
    const buyer = Math.floor(Math.random() * fx.flashBuyers);
    const idem = `chaos-fl-${++seq}-${randomBytes(4).toString('hex')}`;
    const path = `/open/v1/flash-sales/${fx.flashSaleId}/orders`;
    const payload = { customer: { provider: 'partner', external_id: `flash-buyer-${buyer}` } };
    const a = await signedPost(appUrl, fx.partnerKey, path, payload, idem);
    const c = classify(a);
    record({ kind: 'flash', status: a.status, ...c });
    if (c.outcome === 'ok') {
      remember(idem, a);
      flashOk.add(idem);
    } else if (c.outcome === 'failed' || a.status === 503) unanswered.push({ kind: 'flash', key: fx.partnerKey, path, payload, idempotencyKey: idem });
  }

  /** A WeChat order: created unpaid, paid at the fake at once; its notification goes out with the next batch. */
  async function wechatOnce() {
    const idem = `chaos-wx-${++seq}-${randomBytes(4).toString('hex')}`;
    const a = await signedPost(appUrl, fx.partnerKey, '/open/v1/orders', { sku_id: fx.wechatSku, quantity: 1, payment: 'wechat', payer_openid: `o-chaos-${seq}`, customer: { provider: 'partner', external_id: `wx-buyer-${idem}` } }, idem);
    const c = classify(a);
    record({ kind: 'wechat', status: a.status, ...c });
    const payment = a.body?.payment as { trade_no?: string } | undefined;
    const order = a.body?.order as { id?: string } | undefined;
    if (c.outcome === 'ok' && payment?.trade_no && order?.id) {
      wx.pay(payment.trade_no);
      trades.set(payment.trade_no, { orderId: order.id, paid: true, acked: false });
    }
  }

  /** Unacknowledged notifications, shuffled (reordered), every third one sent three times at once (duplicated). */
  async function notifyBatch() {
    const due = [...trades.entries()].filter(([, t]) => t.paid && !t.acked).map(([no]) => no);
    for (let i = due.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [due[i], due[j]] = [due[j]!, due[i]!];
    }
    await Promise.all(
      due.map(async (no, i) => {
        const statuses = await wx.sendNotification(no, { url: `${appUrl}/payments/notify/wechat`, times: i % 3 === 0 ? 3 : 1, concurrent: true });
        for (const s of statuses) record({ kind: 'notify', status: s === 'error' ? 0 : s, outcome: s === 'error' ? 'failed' : s >= 200 && s < 300 ? 'ok' : s === 503 ? 'refused' : 'failed' });
        if (statuses.some((s) => s !== 'error' && s >= 200 && s < 300)) trades.get(no)!.acked = true;
      }),
    );
  }

  let creating = true;
  const loop = async (fn: () => Promise<void>, pace: number, creates = true) => {
    while (!stopped) {
      if (paused || (creates && !creating)) {
        await sleep(100);
        continue;
      }
      const t0 = Date.now();
      await track(fn).catch((err: unknown) => record({ kind: 'admin', status: 0, outcome: 'failed', code: String(err).slice(0, 60) }));
      await sleep(Math.max(0, pace - (Date.now() - t0)));
    }
  };
  const loops = [
    ...Array.from({ length: opts.balanceWorkers }, () => loop(balanceOnce, opts.paceMs)),
    loop(flashOnce, opts.paceMs * 3),
    loop(wechatOnce, opts.paceMs * 10),
    loop(notifyBatch, 1000, false),
  ];

  return {
    samples,
    codesByOrder,
    orderByKey,
    sent,
    unanswered,
    trades,
    flashOk,
    record,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
    async quiesce(timeoutMs) {
      creating = false;
      const t0 = Date.now();
      while (Date.now() - t0 < timeoutMs && [...trades.values()].some((t) => t.paid && !t.acked)) await sleep(200);
    },
    async pause() {
      paused = true;
      while (inFlight > 0) await sleep(50);
    },
    resume() {
      paused = false;
    },
  };
}

/** Replays every unanswered write with its own key until it is answered (2xx or a clear refusal other than 503). */
export async function replayUnanswered(appUrl: string, load: Load, deadlineMs = 60_000): Promise<{ replayed: number; unresolved: number }> {
  const todo = load.unanswered.splice(0);
  const t0 = Date.now();
  let replayed = 0;
  while (todo.length && Date.now() - t0 < deadlineMs) {
    const u = todo[0]!;
    const a = await signedPost(appUrl, u.key, u.path, u.payload, u.idempotencyKey);
    const c = classify(a);
    if (c.outcome === 'ok') {
      const order = a.body?.order as { id?: string } | undefined;
      if (order?.id) {
        load.orderByKey.set(u.idempotencyKey, order.id);
        const codes = (a.body?.codes as { code_id: string }[] | undefined) ?? [];
        if (codes.length) load.codesByOrder.set(order.id, codes.map((x) => x.code_id));
      }
    }
    if (c.outcome === 'ok' || (c.outcome === 'refused' && a.status !== 503)) {
      todo.shift();
      replayed++;
    } else await sleep(500);
  }
  load.unanswered.push(...todo);
  return { replayed, unresolved: todo.length };
}
