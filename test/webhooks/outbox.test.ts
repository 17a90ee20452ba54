import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, inArray } from 'drizzle-orm';
import { bootTestApp, type TestApp } from '../helpers/boot.js';
import { ManualClock, MINUTE } from '../../src/lib/clock.js';
import { AppError } from '../../src/lib/errors.js';
import { createWebhookService, verifySignature, type WebhookService } from '../../src/modules/webhooks/service.js';
import { outboxEvents, webhookDeliveries, webhookEndpoints } from '../../src/modules/webhooks/schema.js';
import { queryRows } from '../../src/db/raw.js';
import { headerOf, startReceiver, type Receiver } from './receiver.js';

// On a whole second, so skews computed from the second-resolution timestamp header are exact.
const clock = new ManualClock(new Date(Math.floor(Date.now() / 1000) * 1000));
const staff = { type: 'staff' as const, id: 'stf_test' };
let t: TestApp;
let wh: WebhookService;
let receiver: Receiver;

beforeAll(async () => {
  t = await bootTestApp({ clock });
  wh = createWebhookService(t.platform, { audit: t.services.audit }, { allowPrivateNetworks: true, fetchTimeoutMs: 2000 });
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await t?.close();
});

const deliveriesOf = (eventId: string) => t.platform.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.eventId, eventId));
const requestsFor = (eventId: string) => receiver.requests.filter((r) => headerOf(r, 'kaquan-webhook-id') === eventId);
const commit = (event: Parameters<WebhookService['enqueue']>[1]) => t.platform.db.transaction((tx) => wh.enqueue(tx, event));

describe('the outbox is written in the caller’s transaction', () => {
  it('a rolled-back transaction leaves no event; a committed one does', async () => {
    let rolledBackId = '';
    let seenInside = 0;
    await expect(
      t.platform.db.transaction(async (tx) => {
        rolledBackId = await wh.enqueue(tx, { type: 'order.paid', ownerType: 'partner', ownerId: 'p-roll', data: { order_id: 'ord_1' } });
        seenInside = (await tx.select().from(outboxEvents).where(eq(outboxEvents.id, rolledBackId))).length;
        throw new Error('the order failed after the event was written');
      }),
    ).rejects.toThrow('the order failed');
    expect(rolledBackId).toMatch(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(seenInside).toBe(1);
    expect(await t.platform.db.select().from(outboxEvents).where(eq(outboxEvents.id, rolledBackId))).toEqual([]);

    const committedId = await commit({ type: 'order.paid', ownerType: 'partner', ownerId: 'p-roll', data: { order_id: 'ord_2', paid_at: new Date('2026-01-02T03:04:05Z') } });
    const [row] = await t.platform.db.select().from(outboxEvents).where(eq(outboxEvents.id, committedId));
    expect(row).toMatchObject({ type: 'order.paid', ownerType: 'partner', ownerId: 'p-roll', dispatchedAt: null, data: { order_id: 'ord_2', paid_at: '2026-01-02T03:04:05.000Z' } });
  });

  it('an unknown type or half an owner is a programming error', async () => {
    await expect(commit({ type: 'order.exploded' as 'order.paid', data: {} })).rejects.toThrow('unknown webhook event type');
    await expect(commit({ type: 'order.paid', ownerType: 'partner', data: {} })).rejects.toThrow('ownerType and ownerId');
  });
});

describe('dispatch fans out to subscribed endpoints of the right owner', () => {
  it('only the owner’s active endpoints subscribed to the type get a delivery, once', async () => {
    const mk = (ownerType: 'partner' | 'agent', ownerId: string, events: string[]) => wh.createEndpoint({ ownerType, ownerId, url: receiver.url, events }, staff);
    const paid = await mk('partner', 'fan-1', ['order.paid', 'order.refunded']);
    await mk('partner', 'fan-1', ['order.delivered']); // same owner, other type
    await mk('partner', 'fan-2', ['order.paid']); // other owner
    await mk('agent', 'fan-1', ['order.paid']); // same id, other owner type
    const disabled = await mk('partner', 'fan-1', ['order.paid']);
    await wh.disableEndpoint(disabled.id, staff);
    const stockWatcher = await mk('partner', 'fan-3', ['stock.low']);

    const orderEvent = await commit({ type: 'order.paid', ownerType: 'partner', ownerId: 'fan-1', data: { order_id: 'ord_fan' } });
    const stockEvent = await commit({ type: 'stock.low', data: { sku_id: 'sku_1', available: 3 } });
    const first = await wh.dispatchPending(100);
    expect(first.events).toBeGreaterThanOrEqual(2);

    expect((await deliveriesOf(orderEvent)).map((d) => d.endpointId)).toEqual([paid.id]);
    // A platform-wide event goes to every endpoint subscribed to its type.
    expect((await deliveriesOf(stockEvent)).map((d) => d.endpointId)).toEqual([stockWatcher.id]);
    const [ev] = await t.platform.db.select().from(outboxEvents).where(eq(outboxEvents.id, orderEvent));
    expect(ev!.dispatchedAt).not.toBeNull();

    // Nothing left, and a re-run after a crash between fan-out and marking never duplicates.
    expect(await wh.dispatchPending(100)).toEqual({ events: 0, deliveries: 0 });
    await t.platform.db.update(outboxEvents).set({ dispatchedAt: null }).where(inArray(outboxEvents.id, [orderEvent, stockEvent]));
    expect(await wh.dispatchPending(100)).toEqual({ events: 2, deliveries: 0 });
    expect(await deliveriesOf(orderEvent)).toHaveLength(1);
  });
});

describe('signed deliveries', () => {
  it('the receiver verifies the signature with the secret it was given; tampering fails', async () => {
    const ep = await wh.createEndpoint({ ownerType: 'partner', ownerId: 'sig-1', url: receiver.url, events: ['order.delivered'] }, staff);
    expect(ep.secret).toMatch(/^whsec_[A-Za-z0-9_-]{40,}$/);
    const eventId = await commit({ type: 'order.delivered', ownerType: 'partner', ownerId: 'sig-1', data: { order_id: 'ord_sig', codes: 2 } });
    await wh.flush();
    const got = requestsFor(eventId);
    expect(got).toHaveLength(1);
    const req = got[0]!;
    expect(req.method).toBe('POST');
    expect(headerOf(req, 'content-type')).toBe('application/json');
    expect(headerOf(req, 'Kaquan-Webhook-Id')).toBe(eventId);
    expect(headerOf(req, 'Kaquan-Webhook-Timestamp')).toBe(String(Math.floor(clock.now().getTime() / 1000)));
    expect(headerOf(req, 'Kaquan-Webhook-Signature')).toMatch(/^v1=[0-9a-f]{64}$/);
    const body = JSON.parse(req.body) as Record<string, unknown>;
    expect(body).toEqual({ id: eventId, type: 'order.delivered', created_at: clock.now().toISOString(), data: { order_id: 'ord_sig', codes: 2 } });

    expect(verifySignature(ep.secret, req.headers, req.body, clock.now())).toEqual({ ok: true, id: eventId, timestamp: Math.floor(clock.now().getTime() / 1000) });
    expect(verifySignature(ep.secret, req.headers, req.body.replace('"codes":2', '"codes":3'), clock.now())).toMatchObject({ ok: false, reason: 'signature does not match' });
    expect(verifySignature(ep.secret, { ...req.headers, 'kaquan-webhook-id': 'evt_01J0000000000000000000000Z' }, req.body, clock.now()).ok).toBe(false);
    expect(verifySignature(`${ep.secret}x`, req.headers, req.body, clock.now()).ok).toBe(false);
    expect(verifySignature(ep.secret, { ...req.headers, 'kaquan-webhook-signature': undefined }, req.body, clock.now()).ok).toBe(false);

    const [d] = await deliveriesOf(eventId);
    expect(d).toMatchObject({ status: 'succeeded', attempts: 1, lastStatusCode: 200, lastError: null, nextAttemptAt: null });
  });

  it('a timestamp more than 5 minutes off is rejected, in either direction', async () => {
    const ep = await wh.createEndpoint({ ownerType: 'partner', ownerId: 'sig-2', url: receiver.url, events: ['order.refunded'] }, staff);
    const eventId = await commit({ type: 'order.refunded', ownerType: 'partner', ownerId: 'sig-2', data: { order_id: 'ord_old' } });
    await wh.flush();
    const req = requestsFor(eventId)[0]!;
    const at = (ms: number) => new Date(clock.now().getTime() + ms);
    expect(verifySignature(ep.secret, req.headers, req.body, at(4 * MINUTE)).ok).toBe(true);
    expect(verifySignature(ep.secret, req.headers, req.body, at(-4 * MINUTE)).ok).toBe(true);
    const late = verifySignature(ep.secret, req.headers, req.body, at(6 * MINUTE));
    expect(late.ok).toBe(false);
    expect(!late.ok && late.reason).toContain('timestamp is 360 s away');
    expect(verifySignature(ep.secret, req.headers, req.body, at(-6 * MINUTE)).ok).toBe(false);
    expect(verifySignature(ep.secret, req.headers, req.body, at(6 * MINUTE), 600).ok).toBe(true);
  });

  it('secrets never appear in lists or at rest; a rotated secret replaces the old one', async () => {
    const ep = await wh.createEndpoint({ ownerType: 'partner', ownerId: 'sec-1', url: receiver.url, events: ['order.cancelled'] }, staff);
    await commit({ type: 'order.cancelled', ownerType: 'partner', ownerId: 'sec-1', data: { order_id: 'ord_c' } });
    await wh.flush();
    const lists = JSON.stringify([await wh.listEndpoints({ limit: 100 }), await wh.listDeliveries({ limit: 100 }), await wh.listEndpoints({ limit: 100 }, { ownerType: 'partner', ownerId: 'sec-1' })]);
    expect(lists).toContain(ep.id);
    expect(lists).not.toContain(ep.secret);
    expect(lists).not.toContain('whsec_');
    expect(lists).not.toMatch(/secret/i);
    const rows = await queryRows<{ s: string }>(t.platform.db, `select encode(secret_sealed, 'escape') as s from webhook_endpoints`);
    expect(rows.map((r) => r.s).join('')).not.toContain(ep.secret.slice(6));

    const rotated = await wh.rotateSecret(ep.id, staff);
    expect(rotated.secret).not.toBe(ep.secret);
    const eventId = await commit({ type: 'order.cancelled', ownerType: 'partner', ownerId: 'sec-1', data: { order_id: 'ord_d' } });
    await wh.flush();
    const req = requestsFor(eventId)[0]!;
    expect(verifySignature(rotated.secret, req.headers, req.body, clock.now()).ok).toBe(true);
    expect(verifySignature(ep.secret, req.headers, req.body, clock.now()).ok).toBe(false);
    const audit = await t.services.audit.list({ limit: 5, action: 'webhook.secret_rotate' });
    expect(audit.data[0]).toMatchObject({ target_id: ep.id, actor_id: 'stf_test' });
    expect(JSON.stringify(audit.data)).not.toContain(rotated.secret);
  });
});

describe('the request-forgery guard', () => {
  const refused = async (svc: WebhookService, url: string) => {
    const err = await svc.createEndpoint({ ownerType: 'partner', ownerId: 'ssrf', url, events: ['order.paid'] }, staff).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err, url).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('VALIDATION_FAILED');
    expect((err as AppError).details).toMatchObject([{ field: 'url' }]);
    return (err as AppError).message;
  };

  it('refuses loopback, private, link-local and non-http URLs when private networks are not allowed', async () => {
    const strict = createWebhookService(t.platform, { audit: t.services.audit }, { allowPrivateNetworks: false });
    for (const url of [
      'http://127.0.0.1:8080/hook',
      'https://10.1.2.3/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://192.168.1.10/hook',
      'http://172.20.0.5/hook',
      'http://[::1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://[fe80::1]/hook',
      'http://0.0.0.0/hook',
      'http://localhost:9/hook', // a name that resolves to loopback
    ])
      expect(await refused(strict, url)).toMatch(/private|loopback|link-local/);
    expect(await refused(strict, 'ftp://example.com/hook')).toContain('https:// or http://');
    expect(await refused(strict, 'https://user:pw@example.com/hook')).toContain('credentials');
    expect(await refused(strict, 'not a url')).toContain('not a URL');
    expect(await t.platform.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.ownerId, 'ssrf'))).toEqual([]);
  });

  it('enforces the host allow-list', async () => {
    const listed = createWebhookService(t.platform, { audit: t.services.audit }, { allowPrivateNetworks: true, allowedHosts: ['127.0.0.1'] });
    expect(await refused(listed, receiver.url.replace('127.0.0.1', 'localhost'))).toContain('allow-list');
    await expect(listed.createEndpoint({ ownerType: 'partner', ownerId: 'ssrf-ok', url: receiver.url, events: ['order.paid'] }, staff)).resolves.toMatchObject({ status: 'active' });
  });

  it('checks again at delivery, on the address actually connected to', async () => {
    // Created while private networks were allowed, delivered by an instance where they are not.
    const viaIp = await wh.createEndpoint({ ownerType: 'partner', ownerId: 'ssrf-late', url: receiver.url, events: ['order.paid'] }, staff);
    const viaName = await wh.createEndpoint({ ownerType: 'partner', ownerId: 'ssrf-late', url: receiver.url.replace('127.0.0.1', 'localhost'), events: ['order.paid'] }, staff);
    const strict = createWebhookService(t.platform, { audit: t.services.audit }, { allowPrivateNetworks: false });
    const eventId = await commit({ type: 'order.paid', ownerType: 'partner', ownerId: 'ssrf-late', data: {} });
    await strict.flush();
    expect(requestsFor(eventId)).toEqual([]);
    const rows = await deliveriesOf(eventId);
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(r.status, r.endpointId).toBe('pending');
      expect(r.attempts).toBe(1);
      expect(r.lastStatusCode).toBeNull();
      expect(r.lastError).toMatch(/^refused: .*private/);
    }
    expect(rows.map((r) => r.endpointId).sort()).toEqual([viaIp.id, viaName.id].sort());
  });
});
