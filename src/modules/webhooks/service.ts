import type { DbOrTx } from '../../db/client.js';
import type { Platform } from '../../platform.js';
import type { AuditService } from '../audit/service.js';
import { newId } from '../../lib/ids.js';
import type { JobDefinition } from '../jobs/engine.js';
import { queryRows, type Statement } from '../../db/raw.js';
import { createEndpointManager } from './endpoints.js';
import { createDeliveryEngine } from './delivery.js';
import { isWebhookEventType, type WebhookEventType } from './views.js';

export { webhookEventTypes, type WebhookEventType, type EndpointView, type DeliveryView, type WebhookActor, type OwnerScope } from './views.js';
export { verifySignature, signWebhook } from './signature.js';

export interface WebhookServiceOptions {
  /** Hosts endpoint URLs may point at (exact or "*.suffix"); undefined allows any public host. */
  allowedHosts?: string[];
  /** Allow loopback, private and link-local targets. Off in production; tests and local demos turn it on. */
  allowPrivateNetworks?: boolean;
  /** Whole-exchange timeout of one POST. */
  fetchTimeoutMs?: number;
}

export interface OutboxEvent {
  type: WebhookEventType;
  /** Whose event it is; only that owner's endpoints get it. Leave both out for a platform-wide event. */
  ownerType?: string;
  ownerId?: string;
  data: Record<string, unknown>;
}

/** Batches per job run are repeated while full, up to this long, so a backlog drains within a tick. */
const JOB_TIME_BUDGET_MS = 45_000;

/**
 * Partner webhooks: an outbox written inside the caller's transaction, fanned
 * out into deliveries per endpoint, sent signed by the job engine with
 * retries for 3 days, with a delivery log and manual redelivery.
 *
 * Latency: the jobs run every minute (pg-boss cron). A deployment wanting
 * sub-minute delivery calls `flush()` after its transaction commits
 * (fire-and-forget, `void webhooks.flush().catch(log)`); the jobs remain the
 * safety net, and SKIP LOCKED keeps the two from sending anything twice.
 */
export function createWebhookService(p: Platform, deps: { audit: AuditService }, options: WebhookServiceOptions = {}) {
  const policy = { allowedHosts: options.allowedHosts, allowPrivateNetworks: options.allowPrivateNetworks ?? p.config.nodeEnv !== 'production' };
  const endpoints = createEndpointManager(p, deps.audit, policy);
  const delivery = createDeliveryEngine(p, deps.audit, { policy, fetchTimeoutMs: options.fetchTimeoutMs ?? 10_000, secretOf: endpoints.secretOf });

  /**
   * Writes an event to the outbox with the caller's transaction handle, so
   * it commits or rolls back with the change it describes. Returns its id,
   * which receivers see as Kaquan-Webhook-Id on every attempt.
   */
  async function enqueue(tx: DbOrTx, event: OutboxEvent): Promise<string> {
    const { statement, ids } = outboxStatement([event]);
    await queryRows(tx, statement.text, statement.values);
    return ids[0]!;
  }

  /**
   * The insert of events into the outbox, for a caller that runs it in its
   * own transaction together with its own write (one round trip for both).
   */
  function outboxStatement(events: OutboxEvent[]): { statement: Statement; ids: string[] } {
    for (const event of events) {
      // A wrong type or half an owner is a bug in the caller, not a user error: fail loudly, inside its transaction.
      if (!isWebhookEventType(event.type)) throw new Error(`unknown webhook event type ${String(event.type)}`);
      if ((event.ownerType === undefined) !== (event.ownerId === undefined)) throw new Error('webhook event owner needs both ownerType and ownerId');
    }
    const now = p.clock.now();
    const ids = events.map(() => newId('evt', now));
    // Through JSON once, so what is stored is exactly what will be sent (Dates become ISO strings, undefined drops out).
    const statement = {
      text: `insert into outbox_events (id, type, owner_type, owner_id, data, created_at)
             select u.id, u.type, u.owner_type, u.owner_id, u.data::jsonb, $1::timestamptz from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) as u(id, type, owner_type, owner_id, data)`,
      values: [now.toISOString(), ids, events.map((e) => e.type), events.map((e) => e.ownerType ?? null), events.map((e) => e.ownerId ?? null), events.map((e) => JSON.stringify(e.data))],
    };
    return { statement, ids };
  }

  /** Runs `step` again while it keeps finding a full batch, within the job's time budget. */
  async function drain(step: () => Promise<number>, batch: number): Promise<number> {
    const started = Date.now();
    let total = 0;
    for (;;) {
      const n = await step();
      total += n;
      if (n < batch || Date.now() - started > JOB_TIME_BUDGET_MS) return total;
    }
  }
  const drainDispatch = () => drain(async () => (await delivery.dispatchPending(100)).events, 100);
  const drainDeliver = () => drain(async () => (await delivery.deliverDue(50)).claimed, 50);

  /** Dispatch, then deliver what is due: the after-commit shortcut. */
  async function flush(): Promise<void> {
    await drainDispatch();
    await drainDeliver();
  }

  /**
   * Each run does the whole job again, so a failed run is not retried by
   * pg-boss: the next tick is the retry (and a delivery's own schedule lives
   * in its row, not in the job).
   */
  function jobDefinitions(): JobDefinition[] {
    return [
      { name: 'webhooks.dispatch', cron: '* * * * *', retryLimit: 0, expireInSeconds: 5 * 60, handler: async () => void (await drainDispatch()) },
      // Dispatches first, so an event written since the last tick goes out in this one.
      { name: 'webhooks.deliver', cron: '* * * * *', retryLimit: 0, expireInSeconds: 10 * 60, handler: flush },
    ];
  }

  return {
    enqueue,
    outboxStatement,
    createEndpoint: endpoints.createEndpoint,
    listEndpoints: endpoints.listEndpoints,
    disableEndpoint: endpoints.disableEndpoint,
    rotateSecret: endpoints.rotateSecret,
    dispatchPending: delivery.dispatchPending,
    deliverDue: delivery.deliverDue,
    redeliver: delivery.redeliver,
    listDeliveries: delivery.listDeliveries,
    flush,
    jobDefinitions,
  };
}

export type WebhookService = ReturnType<typeof createWebhookService>;
