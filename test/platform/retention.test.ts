import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ulid } from 'ulid';
import { bootTestApp, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { DAY, MINUTE, ManualClock } from '../../src/lib/clock.js';
import { idempotencyKeys, revealTokens } from '../../src/modules/orders/schema.js';
import { outboxEvents, webhookDeliveries } from '../../src/modules/webhooks/schema.js';
import { createOrderRetention } from '../../src/modules/orders/retention.js';
import { createWebhookRetention } from '../../src/modules/webhooks/retention.js';
import { jobDefinitions } from '../../src/modules/jobs/definitions.js';

const clock = new ManualClock(new Date());
let t: TestApp;
beforeAll(async () => {
  t = await bootTestApp({ clock });
});
afterAll(() => t.close());

const ago = (ms: number) => new Date(clock.now().getTime() - ms);
/** An id whose embedded time is `at`, as `newId` gives a row created then. */
const idAt = (prefix: string, at: Date) => `${prefix}_${ulid(at.getTime())}`;
const column = async (sql: string) => (await t.platform.database.executeSql<{ v: string }>(sql)).rows.map((r) => r.v).sort();

describe('retention settings', () => {
  it('idempotency keys are kept at least 90 days; webhook events 30 by default', () => {
    const base = { ...t.env };
    expect(loadConfig(base)).toMatchObject({ idempotencyRetentionDays: 90, webhookRetentionDays: 30 });
    expect(loadConfig({ ...base, IDEMPOTENCY_RETENTION_DAYS: '180', WEBHOOK_RETENTION_DAYS: '7' })).toMatchObject({ idempotencyRetentionDays: 180, webhookRetentionDays: 7 });
    expect(() => loadConfig({ ...base, IDEMPOTENCY_RETENTION_DAYS: '89' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, IDEMPOTENCY_RETENTION_DAYS: '89' })).toThrow(/IDEMPOTENCY_RETENTION_DAYS must be an integer between 90/);
    expect(() => loadConfig({ ...base, WEBHOOK_RETENTION_DAYS: '0' })).toThrow(/WEBHOOK_RETENTION_DAYS/);
  });

  it('the three clean-ups are daily jobs', () => {
    const jobs = jobDefinitions(t.services, t.config).filter((j) => /purge-(idempotency-keys|reveal-tokens|delivered-events)$/.test(j.name));
    expect(jobs.map((j) => j.name).sort()).toEqual(['orders.purge-idempotency-keys', 'orders.purge-reveal-tokens', 'webhooks.purge-delivered-events']);
    for (const j of jobs) expect(j.cron).toMatch(/^\d+ \d+ \* \* \*$/);
  });
});

describe('orders.purge-idempotency-keys', () => {
  it('deletes keys older than 90 days, in batches; a key 89 days old (or just under 90) stays', async () => {
    const keys: { key: string; age: number }[] = [
      { key: 'age-89d', age: 89 * DAY },
      { key: 'age-90d-less-1m', age: 90 * DAY - MINUTE },
      { key: 'age-90d-plus-1m', age: 90 * DAY + MINUTE },
      { key: 'age-91d', age: 91 * DAY },
      { key: 'age-1d', age: DAY },
      ...Array.from({ length: 12 }, (_, i) => ({ key: `old-${String(i).padStart(2, '0')}`, age: (200 + i) * DAY })),
    ];
    await t.platform.db.insert(idempotencyKeys).values(keys.map((k) => ({ scope: 'agent:agt_x:orders', key: k.key, requestHash: 'h', statusCode: 201, responseBody: { order_id: 'ord_x' }, createdAt: ago(k.age) })));
    // Five rows per statement: the twelve old keys take several statements.
    const deleted = await createOrderRetention(t.platform, { idempotencyDays: 90, batchSize: 5 }).purgeIdempotencyKeys();
    expect(deleted).toBe(14);
    expect(await column('select key as v from idempotency_keys')).toEqual(['age-1d', 'age-89d', 'age-90d-less-1m']);
    // The service wired from the configuration (90 days) agrees, and a second run finds nothing.
    expect(await t.services.orderRetention.purgeIdempotencyKeys()).toBe(0);
    clock.advance(2 * MINUTE);
    expect(await t.services.orderRetention.purgeIdempotencyKeys()).toBe(1);
    expect(await column('select key as v from idempotency_keys')).toEqual(['age-1d', 'age-89d']);
  });
});

describe('orders.purge-reveal-tokens', () => {
  it('deletes links used or expired more than 30 days ago; recent and live ones stay', async () => {
    const row = (name: string, created: number, expires: number, used?: number) => ({
      id: idAt('rvt', ago(created)),
      orderId: `ord_${name}`,
      tokenHash: `hash-${name}`,
      createdAt: ago(created),
      expiresAt: ago(expires),
      usedAt: used === undefined ? null : ago(used),
    });
    await t.platform.db.insert(revealTokens).values([
      row('used-31d', 32 * DAY, 25 * DAY, 31 * DAY),
      row('used-29d', 32 * DAY, 25 * DAY, 29 * DAY),
      row('expired-31d', 32 * DAY, 31 * DAY),
      row('expired-29d', 30 * DAY, 29 * DAY),
      row('expired-30d-plus-1m', 31 * DAY, 30 * DAY + MINUTE),
      row('live', DAY, -DAY),
      row('used-today', DAY, -DAY, MINUTE),
    ]);
    expect(await t.services.orderRetention.purgeRevealTokens()).toBe(3);
    expect(await column('select order_id as v from reveal_tokens')).toEqual(['ord_expired-29d', 'ord_live', 'ord_used-29d', 'ord_used-today']);
  });

  it('a link issued and used through the service is gone 30 days later', async () => {
    const agent = await t.services.agents.create({ name: 'A', role: 'group_leader' });
    await t.services.orders.creditBalance({ type: 'agent', id: agent.id }, 100_000, 'test', { id: 'stf_test' });
    const sku = await createCodeSku(t);
    await stockCodes(t, sku, 1);
    const order = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'agent', id: agent.id }, skuId: sku, quantity: 1, channel: 'telegram', payment: 'balance' }, tx));
    const link = await t.services.revealTokens.issue(order.id, { ttlMinutes: 60, issuedFor: { actorType: 'system', actorId: 'test' } });
    await t.services.revealTokens.redeem(link.url.split('/r/')[1]!, { ip: '127.0.0.1' });
    clock.advance(29 * DAY);
    await t.services.orderRetention.purgeRevealTokens();
    expect(await column(`select id as v from reveal_tokens where order_id = '${order.id}'`)).toEqual([link.tokenId]);
    clock.advance(2 * DAY);
    await t.services.orderRetention.purgeRevealTokens();
    expect(await column(`select id as v from reveal_tokens where order_id = '${order.id}'`)).toEqual([]);
  });
});

describe('webhooks.purge-delivered-events', () => {
  it('deletes events whose deliveries all ended more than 30 days ago, with their delivery log; never pending ones', async () => {
    const event = (name: string, created: number, dispatched: number | null) => ({
      id: idAt('evt', ago(created)),
      type: 'order.paid',
      ownerType: 'partner',
      ownerId: 'retention-test',
      data: { name },
      createdAt: ago(created),
      dispatchedAt: dispatched === null ? null : ago(dispatched),
    });
    const delivery = (ev: { id: string }, endpoint: string, status: string, ended: number) => ({
      id: idAt('whd', ago(ended)),
      eventId: ev.id,
      endpointId: endpoint,
      status,
      attempts: 1,
      nextAttemptAt: status === 'pending' ? ago(-MINUTE) : null,
      createdAt: ago(ended),
      updatedAt: ago(ended),
      deliveredAt: status === 'succeeded' ? ago(ended) : null,
    });
    const e = {
      delivered40: event('delivered-40d', 40 * DAY, 40 * DAY),
      dead35: event('dead-35d', 40 * DAY, 40 * DAY),
      deliveredJustOver: event('delivered-30d-plus-1m', 31 * DAY, 31 * DAY),
      noEndpoint: event('no-endpoint-40d', 40 * DAY, 40 * DAY),
      pending: event('pending-40d', 40 * DAY, 40 * DAY),
      mixed: event('one-ended-recently', 40 * DAY, 40 * DAY),
      undispatched: event('undispatched-40d', 40 * DAY, null),
      delivered29: event('delivered-29d', 29 * DAY, 29 * DAY),
      deliveredJustUnder: event('delivered-30d-less-1m', 31 * DAY, 31 * DAY),
    };
    const old = Array.from({ length: 12 }, (_, i) => event(`bulk-${String(i).padStart(2, '0')}`, (60 + i) * DAY, (60 + i) * DAY));
    await t.platform.db.insert(outboxEvents).values([...Object.values(e), ...old]);
    await t.platform.db.insert(webhookDeliveries).values([
      delivery(e.delivered40, 'whe_a', 'succeeded', 40 * DAY),
      delivery(e.delivered40, 'whe_b', 'cancelled', 39 * DAY),
      delivery(e.dead35, 'whe_a', 'dead', 35 * DAY),
      delivery(e.deliveredJustOver, 'whe_a', 'succeeded', 30 * DAY + MINUTE),
      delivery(e.pending, 'whe_a', 'pending', 40 * DAY),
      delivery(e.mixed, 'whe_a', 'succeeded', 40 * DAY),
      delivery(e.mixed, 'whe_b', 'dead', 10 * DAY),
      delivery(e.delivered29, 'whe_a', 'succeeded', 29 * DAY),
      delivery(e.deliveredJustUnder, 'whe_a', 'succeeded', 30 * DAY - MINUTE),
      ...old.map((ev) => delivery(ev, 'whe_a', 'succeeded', 59 * DAY)),
    ]);

    const result = await createWebhookRetention(t.platform, { retentionDays: 30, batchSize: 5 }).purgeDeliveredEvents();
    expect(result).toEqual({ events: 4 + 12, deliveries: 4 + 12 });
    const names = await column(`select data->>'name' as v from outbox_events where owner_id = 'retention-test'`);
    expect(names).toEqual(['delivered-29d', 'delivered-30d-less-1m', 'one-ended-recently', 'pending-40d', 'undispatched-40d']);
    const kept = new Set((await column('select event_id as v from webhook_deliveries')));
    expect(kept).toEqual(new Set([e.pending.id, e.mixed.id, e.delivered29.id, e.deliveredJustUnder.id]));
    expect((await column(`select count(*)::text as v from webhook_deliveries where event_id = '${e.mixed.id}'`))[0]).toBe('2');

    // Through the configured service (30 days), a day later: the one just under the boundary goes too;
    // the one that ended exactly 30 days ago stays until the next run.
    expect(await t.services.webhookRetention.purgeDeliveredEvents()).toEqual({ events: 0, deliveries: 0 });
    clock.advance(DAY);
    expect(await t.services.webhookRetention.purgeDeliveredEvents()).toEqual({ events: 1, deliveries: 1 });
    expect(await column(`select data->>'name' as v from outbox_events where owner_id = 'retention-test'`)).toEqual(['delivered-29d', 'one-ended-recently', 'pending-40d', 'undispatched-40d']);
  });
});
