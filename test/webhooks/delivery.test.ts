import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { bootTestApp, realServers, type TestApp } from '../helpers/boot.js';
import { DAY, ManualClock, MINUTE, SECOND } from '../../src/lib/clock.js';
import { AppError } from '../../src/lib/errors.js';
import { createWebhookService, verifySignature, type WebhookService } from '../../src/modules/webhooks/service.js';
import { webhookDeliveries } from '../../src/modules/webhooks/schema.js';
import { RETRY_DELAYS_MS, JITTER } from '../../src/modules/webhooks/backoff.js';
import { headerOf, startReceiver } from './receiver.js';

const clock = new ManualClock(new Date());
const staff = { type: 'staff' as const, id: 'stf_ops', ip: '203.0.113.9' };
let t: TestApp;
let wh: WebhookService;

beforeAll(async () => {
  t = await bootTestApp({ clock });
  wh = createWebhookService(t.platform, { audit: t.services.audit }, { allowPrivateNetworks: true, fetchTimeoutMs: 2500 });
});
afterAll(() => t?.close());

// Each test leaves nothing pending behind (a later test's deliverDue would pick it up when the clock moves).
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A receiver, an endpoint for one owner on it, and a helper to commit that owner's events. */
async function setup(ownerId: string, o: { failures?: number; delayMs?: number } = {}) {
  const receiver = await startReceiver(o);
  const endpoint = await wh.createEndpoint({ ownerType: 'partner', ownerId, url: receiver.url, events: ['order.paid'] }, staff);
  cleanups.push(() => wh.disableEndpoint(endpoint.id, staff).catch(() => undefined), () => receiver.close());
  const emit = (data: Record<string, unknown> = {}) => t.platform.db.transaction((tx) => wh.enqueue(tx, { type: 'order.paid', ownerType: 'partner', ownerId, data }));
  const delivery = async (eventId: string) => (await t.platform.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.eventId, eventId)))[0]!;
  return { receiver, endpoint, emit, delivery };
}

describe('retries', () => {
  it('a failing receiver is retried with growing delays until it answers 2xx', async () => {
    const { receiver, endpoint, emit, delivery } = await setup('retry-1', { failures: 3 });
    const eventId = await emit({ order_id: 'ord_r' });
    await wh.dispatchPending();
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const r = await wh.deliverDue();
      expect(r).toMatchObject({ claimed: 1, retrying: 1 });
      const d = await delivery(eventId);
      expect(d).toMatchObject({ status: 'pending', attempts: attempt, lastStatusCode: 500 });
      expect(d.lastError).toBe('HTTP 500: receiver is down');
      const delay = d.nextAttemptAt!.getTime() - clock.now().getTime();
      const base = RETRY_DELAYS_MS[attempt - 1]!;
      expect(delay).toBeGreaterThanOrEqual(base * (1 - JITTER));
      expect(delay).toBeLessThanOrEqual(base * (1 + JITTER));
      delays.push(delay);
      // Not due yet: nothing is sent before its time.
      clock.advance(delay - SECOND);
      expect((await wh.deliverDue()).claimed).toBe(0);
      clock.advance(SECOND);
    }
    expect(delays[1]!).toBeGreaterThan(delays[0]!);
    expect(delays[2]!).toBeGreaterThan(delays[1]!);
    expect(await wh.deliverDue()).toMatchObject({ claimed: 1, succeeded: 1 });
    expect(await delivery(eventId)).toMatchObject({ status: 'succeeded', attempts: 4, lastStatusCode: 200, lastError: null, nextAttemptAt: null });
    // Every attempt is the same event (receivers dedupe by id), freshly timestamped and signed.
    expect(receiver.requests).toHaveLength(4);
    expect(new Set(receiver.requests.map((r) => headerOf(r, 'kaquan-webhook-id')))).toEqual(new Set([eventId]));
    expect(new Set(receiver.requests.map((r) => r.body)).size).toBe(1);
    expect(new Set(receiver.requests.map((r) => headerOf(r, 'kaquan-webhook-timestamp'))).size).toBe(4);
    const last = receiver.requests.at(-1)!;
    expect(verifySignature(endpoint.secret, last.headers, last.body, clock.now()).ok).toBe(true);
  });

  it('a delivery still failing 3 days after its event is dead', async () => {
    const { receiver, emit, delivery } = await setup('dead-1', { failures: Infinity });
    const createdAt = clock.now().getTime();
    const eventId = await emit();
    await wh.dispatchPending();
    const attemptTimes: number[] = [];
    for (let i = 0; i < 50; i++) {
      attemptTimes.push(clock.now().getTime());
      expect((await wh.deliverDue()).claimed).toBe(1);
      const d = await delivery(eventId);
      if (d.status !== 'pending') break;
      clock.set(d.nextAttemptAt!);
    }
    const d = await delivery(eventId);
    expect(d).toMatchObject({ status: 'dead', nextAttemptAt: null, lastStatusCode: 500 });
    expect(d.attempts).toBe(attemptTimes.length);
    expect(receiver.requests).toHaveLength(attemptTimes.length);
    // About a dozen attempts, the last within the window, and no more after it.
    expect(attemptTimes.length).toBeGreaterThanOrEqual(9);
    expect(attemptTimes.length).toBeLessThanOrEqual(15);
    expect(attemptTimes.at(-1)! - createdAt).toBeLessThanOrEqual(3 * DAY);
    expect(attemptTimes.at(-1)! - createdAt).toBeGreaterThan(2 * DAY);
    clock.advance(DAY);
    expect((await wh.deliverDue()).claimed).toBe(0);
    expect(receiver.requests).toHaveLength(attemptTimes.length);
  });

  it('a receiver slower than the timeout is a failed attempt, not a stuck worker', async () => {
    const { receiver, emit, delivery } = await setup('slow-1', { delayMs: 6000 });
    const eventId = await emit();
    await wh.dispatchPending();
    const started = Date.now();
    expect(await wh.deliverDue()).toMatchObject({ claimed: 1, retrying: 1 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await delivery(eventId)).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: null, lastError: 'no complete answer within 2500 ms' });
    expect(receiver.requests).toHaveLength(1);
  });
});

describe('claiming', () => {
  it('a delivery being sent is leased: a second worker does not send it again meanwhile', async () => {
    const { receiver, emit, delivery } = await setup('lease-1', { delayMs: 800 });
    const eventId = await emit();
    await wh.dispatchPending();
    const first = wh.deliverDue();
    // Wait until the receiver holds the request: the send is in flight.
    for (let waited = 0; receiver.requests.length === 0 && waited < 5000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    expect(receiver.requests).toHaveLength(1);
    expect((await wh.deliverDue()).claimed).toBe(0);
    const d = await delivery(eventId);
    expect(d.attempts).toBe(1);
    expect(d.nextAttemptAt!.getTime()).toBeGreaterThan(clock.now().getTime());
    expect(await first).toMatchObject({ claimed: 1, succeeded: 1 });
    expect(receiver.requests).toHaveLength(1);
  });

  it(`concurrent deliverDue calls send each delivery exactly once (${realServers ? 'real PostgreSQL' : 'embedded'})`, async () => {
    const { receiver, emit } = await setup('conc-1', { delayMs: 20 });
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await emit({ n: i }));
    // Several dispatchers at once too: each event fans out once.
    const dispatched = await Promise.all(Array.from({ length: 3 }, () => wh.dispatchPending(15)));
    const fanned = dispatched.reduce((a, r) => a + r.deliveries, 0) + (await wh.dispatchPending(100)).deliveries;
    expect(fanned).toBe(40);
    const reports = await Promise.all(Array.from({ length: 5 }, () => wh.deliverDue(20)));
    const claimed = reports.reduce((a, r) => a + r.claimed, 0) + (await wh.deliverDue(100)).claimed;
    expect(claimed).toBe(40);
    const sent = receiver.requests.map((r) => headerOf(r, 'kaquan-webhook-id'));
    expect(sent).toHaveLength(40);
    expect(new Set(sent)).toEqual(new Set(ids));
    const rows = await t.platform.db.select().from(webhookDeliveries);
    const mine = rows.filter((r) => ids.includes(r.eventId));
    expect(mine.every((r) => r.status === 'succeeded' && r.attempts === 1)).toBe(true);
  });
});

describe('redelivery and disabling', () => {
  it('redeliver sends a delivered event again and is audited; a dead one gets one more attempt', async () => {
    const { receiver, endpoint, emit, delivery } = await setup('redo-1');
    const eventId = await emit({ order_id: 'ord_redo' });
    await wh.flush();
    const d = await delivery(eventId);
    expect(d.status).toBe('succeeded');
    expect(receiver.requests).toHaveLength(1);

    clock.advance(MINUTE);
    const view = await wh.redeliver(d.id, staff);
    expect(view).toMatchObject({ id: d.id, status: 'pending', next_attempt_at: clock.now().toISOString(), event_type: 'order.paid', endpoint_id: endpoint.id });
    await wh.deliverDue();
    expect(receiver.requests).toHaveLength(2);
    expect(headerOf(receiver.requests[1]!, 'kaquan-webhook-id')).toBe(eventId);
    expect(receiver.requests[1]!.body).toBe(receiver.requests[0]!.body);
    expect(await delivery(eventId)).toMatchObject({ status: 'succeeded', attempts: 2 });
    const audit = await t.services.audit.list({ limit: 5, action: 'webhook.redeliver' });
    expect(audit.data[0]).toMatchObject({ actor_type: 'staff', actor_id: 'stf_ops', target_type: 'webhook_delivery', target_id: d.id, ip: '203.0.113.9' });
    expect(audit.data[0]!.details).toMatchObject({ event_id: eventId, previous_status: 'succeeded' });

    // Past the 3-day window: the manual redelivery gets its one attempt, then it is dead again.
    await t.platform.db.update(webhookDeliveries).set({ status: 'dead', nextAttemptAt: null }).where(eq(webhookDeliveries.id, d.id));
    clock.advance(4 * DAY);
    receiver.failures = 1;
    await wh.redeliver(d.id, staff);
    expect((await wh.deliverDue()).claimed).toBe(1);
    expect(await delivery(eventId)).toMatchObject({ status: 'dead', attempts: 3, lastStatusCode: 500 });
    expect(receiver.requests).toHaveLength(3);
  });

  it('disabling an endpoint cancels its pending deliveries; they cannot be redelivered; other owners cannot touch it', async () => {
    const { receiver, endpoint, emit, delivery } = await setup('off-1', { failures: 1 });
    const eventId = await emit();
    await wh.flush();
    expect((await delivery(eventId)).status).toBe('pending');
    const other = { ownerType: 'partner', ownerId: 'someone-else' };
    await expect(wh.disableEndpoint(endpoint.id, staff, other)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(wh.redeliver((await delivery(eventId)).id, staff, other)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await wh.listDeliveries({ limit: 10, eventId }, other)).data).toEqual([]);
    expect((await wh.listDeliveries({ limit: 10, eventId }, { ownerType: 'partner', ownerId: 'off-1' })).data).toHaveLength(1);

    const disabled = await wh.disableEndpoint(endpoint.id, staff, { ownerType: 'partner', ownerId: 'off-1' });
    expect(disabled.status).toBe('disabled');
    expect(await delivery(eventId)).toMatchObject({ status: 'cancelled', nextAttemptAt: null, lastError: 'endpoint disabled' });
    clock.advance(DAY);
    expect((await wh.deliverDue()).claimed).toBe(0);
    const err = await wh.redeliver((await delivery(eventId)).id, staff).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('CONFLICT');
    // New events for that owner find no endpoint.
    const later = await emit();
    await wh.dispatchPending();
    expect((await wh.listDeliveries({ limit: 10, eventId: later })).data).toEqual([]);
    expect(receiver.requests).toHaveLength(1);
    await expect(wh.disableEndpoint(endpoint.id, staff)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('the delivery log pages newest first and filters by endpoint and status', async () => {
    const { receiver, endpoint, emit } = await setup('log-1');
    for (let i = 0; i < 5; i++) await emit({ i });
    await wh.dispatchPending();
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 5; page++) {
      const res = await wh.listDeliveries({ limit: 2, cursor, endpointId: endpoint.id });
      seen.push(...res.data.map((d) => d.id));
      if (!res.has_more) break;
      cursor = res.next_cursor!;
    }
    expect(seen).toHaveLength(5);
    expect([...seen].sort().reverse()).toEqual(seen);
    expect((await wh.listDeliveries({ limit: 10, endpointId: endpoint.id, status: 'pending' })).data).toHaveLength(5);
    await wh.deliverDue(100);
    expect((await wh.listDeliveries({ limit: 10, endpointId: endpoint.id, status: 'pending' })).data).toHaveLength(0);
    expect((await wh.listDeliveries({ limit: 10, endpointId: endpoint.id, status: 'succeeded' })).data).toHaveLength(5);
    expect(receiver.requests).toHaveLength(5);
  });
});
