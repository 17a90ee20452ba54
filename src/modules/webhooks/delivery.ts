import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { AuditService } from '../audit/service.js';
import { pageFilter } from '../../db/paging.js';
import { queryRows } from '../../db/raw.js';
import { MINUTE } from '../../lib/clock.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import { outboxEvents, webhookDeliveries, webhookEndpoints } from './schema.js';
import { nextAttemptAt } from './backoff.js';
import { postWebhook, type SendResult } from './sender.js';
import { signWebhook } from './signature.js';
import { parseWebhookUrl, type UrlPolicy } from './url-guard.js';
import type { DeliveryStatus, DeliveryView, OwnerScope, WebhookActor } from './views.js';

/** Sends in flight at once per deliverDue call: one slow receiver must not hold up the others. */
const SEND_CONCURRENCY = 8;
const MAX_ERROR_LENGTH = 300;

export interface DeliveryOptions {
  policy: UrlPolicy;
  fetchTimeoutMs: number;
  secretOf: (e: typeof webhookEndpoints.$inferSelect) => string;
}

export interface DeliverReport {
  claimed: number;
  succeeded: number;
  retrying: number;
  dead: number;
  cancelled: number;
}

export function createDeliveryEngine(p: Platform, audit: AuditService, o: DeliveryOptions) {
  /**
   * Fans undispatched outbox events out into one delivery per subscribed,
   * active endpoint of the event's owner. An event with no owner (stock.low,
   * supplier.down) goes to every active endpoint subscribed to its type: the
   * subscription is the opt-in. Locked with SKIP LOCKED so several instances
   * can run this at once; the unique (event, endpoint) index makes a re-run
   * after a crash between insert and commit harmless.
   */
  async function dispatchPending(limit = 100): Promise<{ events: number; deliveries: number }> {
    const now = p.clock.now();
    return p.db.transaction(async (tx) => {
      const events = await queryRows<{ id: string; type: string; owner_type: string | null; owner_id: string | null }>(
        tx,
        `select id, type, owner_type, owner_id from outbox_events where dispatched_at is null order by created_at, id limit $1 for update skip locked`,
        [limit],
      );
      if (events.length === 0) return { events: 0, deliveries: 0 };
      const types = [...new Set(events.map((e) => e.type))];
      const endpoints = await queryRows<{ id: string; owner_type: string; owner_id: string; events: string[] }>(
        tx,
        `select id, owner_type, owner_id, events from webhook_endpoints where status = 'active' and events ?| $1::text[]`,
        [types],
      );
      const rows = events.flatMap((ev) =>
        endpoints
          .filter((ep) => ep.events.includes(ev.type) && (ev.owner_type === null || (ep.owner_type === ev.owner_type && ep.owner_id === ev.owner_id)))
          .map((ep) => ({ id: newId('whd', now), eventId: ev.id, endpointId: ep.id, status: 'pending', attempts: 0, nextAttemptAt: now, createdAt: now, updatedAt: now })),
      );
      let inserted = 0;
      for (let i = 0; i < rows.length; i += 500) {
        const done = await tx.insert(webhookDeliveries).values(rows.slice(i, i + 500)).onConflictDoNothing().returning({ id: webhookDeliveries.id });
        inserted += done.length;
      }
      await tx.update(outboxEvents).set({ dispatchedAt: now }).where(inArray(outboxEvents.id, events.map((e) => e.id)));
      return { events: events.length, deliveries: inserted };
    });
  }

  /**
   * Claims due deliveries and sends them. The claim moves next_attempt_at
   * forward (a lease) and counts the attempt before any HTTP call, in its own
   * short transaction: a worker that dies mid-send leaves the delivery to be
   * picked up again when the lease runs out, neither lost nor re-sent at once
   * by a sibling. Results are written only while the lease is still ours, so
   * a redelivery or a sibling that took over after the lease is not overwritten.
   */
  async function deliverDue(limit = 50): Promise<DeliverReport> {
    const report: DeliverReport = { claimed: 0, succeeded: 0, retrying: 0, dead: 0, cancelled: 0 };
    const now = p.clock.now();
    // Long enough for the whole batch to go out at the timeout's pace, plus a margin.
    const leaseUntil = new Date(now.getTime() + Math.ceil(limit / SEND_CONCURRENCY) * o.fetchTimeoutMs + MINUTE);
    const claimed = await p.db.transaction(async (tx) => {
      const due = await queryRows<{ id: string }>(
        tx,
        `select id from webhook_deliveries where status = 'pending' and next_attempt_at <= $1::timestamptz order by next_attempt_at, id limit $2 for update skip locked`,
        [now.toISOString(), limit],
      );
      if (due.length === 0) return [];
      return tx
        .update(webhookDeliveries)
        .set({ nextAttemptAt: leaseUntil, attempts: sql`${webhookDeliveries.attempts} + 1`, updatedAt: now })
        .where(inArray(webhookDeliveries.id, due.map((d) => d.id)))
        .returning();
    });
    report.claimed = claimed.length;
    if (claimed.length === 0) return report;

    const events = new Map((await p.db.select().from(outboxEvents).where(inArray(outboxEvents.id, [...new Set(claimed.map((d) => d.eventId))]))).map((e) => [e.id, e]));
    const endpoints = new Map((await p.db.select().from(webhookEndpoints).where(inArray(webhookEndpoints.id, [...new Set(claimed.map((d) => d.endpointId))]))).map((e) => [e.id, e]));

    const stillOurs = (id: string) => and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.status, 'pending'), eq(webhookDeliveries.nextAttemptAt, leaseUntil));

    async function one(d: (typeof claimed)[number]): Promise<void> {
      const event = events.get(d.eventId);
      const endpoint = endpoints.get(d.endpointId);
      if (!event || !endpoint || endpoint.status !== 'active') {
        await p.db.update(webhookDeliveries).set({ status: 'cancelled', nextAttemptAt: null, lastError: 'endpoint disabled', updatedAt: p.clock.now() }).where(stillOurs(d.id));
        report.cancelled++;
        return;
      }
      const body = JSON.stringify({ id: event.id, type: event.type, created_at: event.createdAt.toISOString(), data: event.data });
      let result: SendResult;
      try {
        // The policy may have tightened since the endpoint was created (allow-list), so it is checked again.
        const url = parseWebhookUrl(endpoint.url, o.policy);
        result = await postWebhook(url, body, signWebhook(o.secretOf(endpoint), event.id, body, p.clock.now()), {
          timeoutMs: o.fetchTimeoutMs,
          guardAddresses: !o.policy.allowPrivateNetworks,
        });
      } catch (err) {
        result = { ok: false, status: null, error: `refused: ${err instanceof Error ? err.message : String(err)}` };
      }
      const at = p.clock.now();
      if (result.ok) {
        await p.db
          .update(webhookDeliveries)
          .set({ status: 'succeeded', nextAttemptAt: null, lastStatusCode: result.status, lastError: null, deliveredAt: at, updatedAt: at })
          .where(stillOurs(d.id));
        report.succeeded++;
        return;
      }
      const next = nextAttemptAt(at, d.attempts, event.createdAt);
      const status: DeliveryStatus = next ? 'pending' : 'dead';
      await p.db
        .update(webhookDeliveries)
        .set({ status, nextAttemptAt: next, lastStatusCode: result.status, lastError: result.error.slice(0, MAX_ERROR_LENGTH), updatedAt: at })
        .where(stillOurs(d.id));
      if (next) report.retrying++;
      else report.dead++;
    }

    const queue = [...claimed];
    await Promise.all(
      Array.from({ length: Math.min(SEND_CONCURRENCY, queue.length) }, async () => {
        for (let d = queue.shift(); d; d = queue.shift()) {
          try {
            await one(d);
          } catch (err) {
            // A database hiccup while recording: the lease runs out and the delivery is tried again.
            p.logger.warn({ err, delivery: d.id }, 'webhook delivery could not be recorded');
          }
        }
      }),
    );
    return report;
  }

  /**
   * Sends a delivery again now, whatever its state (a partner who lost data
   * asks for it; receivers dedupe by the event id). Past the 3-day window it
   * gets this one attempt and is dead again if it fails.
   */
  async function redeliver(deliveryId: string, actor: WebhookActor, scope?: OwnerScope): Promise<DeliveryView> {
    const now = p.clock.now();
    await p.db.transaction(async (tx) => {
      const [row] = await tx
        .select({ d: webhookDeliveries, endpointStatus: webhookEndpoints.status })
        .from(webhookDeliveries)
        .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
        .where(and(eq(webhookDeliveries.id, deliveryId), scope ? and(eq(webhookEndpoints.ownerType, scope.ownerType), eq(webhookEndpoints.ownerId, scope.ownerId)) : undefined))
        .for('update', { of: webhookDeliveries });
      if (!row) throw notFound('webhook delivery', deliveryId);
      if (row.endpointStatus !== 'active') throw new AppError('CONFLICT', 'the endpoint of this delivery is disabled');
      await tx.update(webhookDeliveries).set({ status: 'pending', nextAttemptAt: now, updatedAt: now }).where(eq(webhookDeliveries.id, deliveryId));
      await audit.record(
        { actorType: actor.type, actorId: actor.id, ip: actor.ip ?? null, action: 'webhook.redeliver', targetType: 'webhook_delivery', targetId: deliveryId, details: { event_id: row.d.eventId, previous_status: row.d.status } },
        tx,
      );
    });
    const page = await listDeliveries({ limit: 1, id: deliveryId });
    return page.data[0]!;
  }

  /** The delivery log, newest first. */
  async function listDeliveries(
    q: { limit: number; cursor?: string; id?: string; endpointId?: string; eventId?: string; status?: string },
    scope?: OwnerScope,
  ): Promise<PageResult<DeliveryView>> {
    const rows = await p.db
      .select({ d: webhookDeliveries, eventType: outboxEvents.type, url: webhookEndpoints.url })
      .from(webhookDeliveries)
      .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
      .innerJoin(outboxEvents, eq(outboxEvents.id, webhookDeliveries.eventId))
      .where(
        pageFilter(
          webhookDeliveries.id,
          q.cursor,
          q.id ? eq(webhookDeliveries.id, q.id) : undefined,
          q.endpointId ? eq(webhookDeliveries.endpointId, q.endpointId) : undefined,
          q.eventId ? eq(webhookDeliveries.eventId, q.eventId) : undefined,
          q.status ? eq(webhookDeliveries.status, q.status) : undefined,
          scope ? eq(webhookEndpoints.ownerType, scope.ownerType) : undefined,
          scope ? eq(webhookEndpoints.ownerId, scope.ownerId) : undefined,
        ),
      )
      .orderBy(desc(webhookDeliveries.id))
      .limit(q.limit + 1);
    return toPage(
      rows.map(({ d, eventType, url }) => ({
        id: d.id,
        event_id: d.eventId,
        event_type: eventType,
        endpoint_id: d.endpointId,
        url,
        status: d.status,
        attempts: d.attempts,
        next_attempt_at: d.nextAttemptAt?.toISOString() ?? null,
        last_status_code: d.lastStatusCode,
        last_error: d.lastError,
        created_at: d.createdAt.toISOString(),
        updated_at: d.updatedAt.toISOString(),
        delivered_at: d.deliveredAt?.toISOString() ?? null,
      })),
      q.limit,
    );
  }

  return { dispatchPending, deliverDue, redeliver, listDeliveries };
}
