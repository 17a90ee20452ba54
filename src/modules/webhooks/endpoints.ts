import { and, count, desc, eq } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { AuditService } from '../audit/service.js';
import { pageFilter } from '../../db/paging.js';
import { AppError, invalidField, notFound } from '../../lib/errors.js';
import { newId, randomToken } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import { webhookDeliveries, webhookEndpoints } from './schema.js';
import { assertWebhookUrl, type UrlPolicy } from './url-guard.js';
import { isWebhookEventType, toEndpointView, type EndpointOwnerType, type EndpointView, type OwnerScope, type WebhookActor } from './views.js';

/** A cap per owner, so one partner cannot multiply every event into hundreds of calls. */
export const MAX_ACTIVE_ENDPOINTS_PER_OWNER = 10;

export interface CreateEndpointInput {
  ownerType: EndpointOwnerType;
  ownerId: string;
  url: string;
  events: string[];
}

const auditActor = (a: WebhookActor) => ({ actorType: a.type, actorId: a.id, ip: a.ip ?? null });
const ownerMatches = (scope: OwnerScope | undefined) =>
  scope ? and(eq(webhookEndpoints.ownerType, scope.ownerType), eq(webhookEndpoints.ownerId, scope.ownerId)) : undefined;

export function createEndpointManager(p: Platform, audit: AuditService, policy: UrlPolicy) {
  const newSecret = () => `whsec_${randomToken(32)}`;

  /** Creates an endpoint; the signing secret is in this answer only. */
  async function createEndpoint(input: CreateEndpointInput, actor: WebhookActor): Promise<EndpointView & { secret: string }> {
    const events = [...new Set(input.events)];
    if (events.length === 0) throw invalidField('events', 'name at least one event type');
    const unknown = events.find((e) => !isWebhookEventType(e));
    if (unknown) throw invalidField('events', `unknown event type ${unknown}`);
    const url = await assertWebhookUrl(input.url, policy);
    const secret = newSecret();
    const now = p.clock.now();
    const id = newId('whe', now);
    const sealed = p.keyRing.wrap(Buffer.from(secret), id);
    const row = await p.db.transaction(async (tx) => {
      const [active] = await tx
        .select({ n: count() })
        .from(webhookEndpoints)
        .where(and(eq(webhookEndpoints.ownerType, input.ownerType), eq(webhookEndpoints.ownerId, input.ownerId), eq(webhookEndpoints.status, 'active')));
      if ((active?.n ?? 0) >= MAX_ACTIVE_ENDPOINTS_PER_OWNER) {
        throw new AppError('UNPROCESSABLE', `an owner may have at most ${MAX_ACTIVE_ENDPOINTS_PER_OWNER} active webhook endpoints; disable one first`);
      }
      const [created] = await tx
        .insert(webhookEndpoints)
        .values({ id, ownerType: input.ownerType, ownerId: input.ownerId, url: url.toString(), secretSealed: sealed.sealed, secretKeyId: sealed.keyId, events, status: 'active', createdAt: now })
        .returning();
      await audit.record(
        { ...auditActor(actor), action: 'webhook.endpoint_create', targetType: 'webhook_endpoint', targetId: id, details: { owner_type: input.ownerType, owner_id: input.ownerId, url: url.origin, events } },
        tx,
      );
      return created!;
    });
    return { ...toEndpointView(row), secret };
  }

  async function listEndpoints(q: { limit: number; cursor?: string; status?: string }, scope?: OwnerScope): Promise<PageResult<EndpointView>> {
    const rows = await p.db
      .select()
      .from(webhookEndpoints)
      .where(pageFilter(webhookEndpoints.id, q.cursor, ownerMatches(scope), q.status ? eq(webhookEndpoints.status, q.status) : undefined))
      .orderBy(desc(webhookEndpoints.id))
      .limit(q.limit + 1);
    return toPage(rows.map(toEndpointView), q.limit);
  }

  /**
   * Disables an endpoint and cancels what was still waiting for it: a
   * partner who turns an endpoint off does not want a backlog fired at it
   * later. Not reversible, on purpose: create a new one (with a new secret).
   */
  async function disableEndpoint(id: string, actor: WebhookActor, scope?: OwnerScope): Promise<EndpointView> {
    const now = p.clock.now();
    return p.db.transaction(async (tx) => {
      const [row] = await tx
        .update(webhookEndpoints)
        .set({ status: 'disabled' })
        .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.status, 'active'), ownerMatches(scope)))
        .returning();
      if (!row) throw notFound('active webhook endpoint', id);
      const cancelled = await tx
        .update(webhookDeliveries)
        .set({ status: 'cancelled', nextAttemptAt: null, lastError: 'endpoint disabled', updatedAt: now })
        .where(and(eq(webhookDeliveries.endpointId, id), eq(webhookDeliveries.status, 'pending')))
        .returning({ id: webhookDeliveries.id });
      await audit.record({ ...auditActor(actor), action: 'webhook.endpoint_disable', targetType: 'webhook_endpoint', targetId: id, details: { cancelled_deliveries: cancelled.length } }, tx);
      return toEndpointView(row);
    });
  }

  /**
   * Replaces the signing secret at once (there is one secret column, so no
   * overlap period): attempts signed from now on use the new one. The
   * receiver should switch when it gets the answer.
   */
  async function rotateSecret(id: string, actor: WebhookActor, scope?: OwnerScope): Promise<{ id: string; secret: string }> {
    const secret = newSecret();
    const sealed = p.keyRing.wrap(Buffer.from(secret), id);
    await p.db.transaction(async (tx) => {
      const [row] = await tx
        .update(webhookEndpoints)
        .set({ secretSealed: sealed.sealed, secretKeyId: sealed.keyId })
        .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.status, 'active'), ownerMatches(scope)))
        .returning({ id: webhookEndpoints.id });
      if (!row) throw notFound('active webhook endpoint', id);
      await audit.record({ ...auditActor(actor), action: 'webhook.secret_rotate', targetType: 'webhook_endpoint', targetId: id }, tx);
    });
    return { id, secret };
  }

  function secretOf(e: typeof webhookEndpoints.$inferSelect): string {
    return p.keyRing.unwrap(e.secretKeyId, e.secretSealed, e.id).toString();
  }

  return { createEndpoint, listEndpoints, disableEndpoint, rotateSecret, secretOf };
}
