import type { Platform } from '../../platform.js';
import { inBatches, idFloor } from '../../db/batches.js';
import { queryRows } from '../../db/raw.js';

const DAY_MS = 86_400_000;

/**
 * Deletes outbox events whose every delivery ended (succeeded, dead or
 * cancelled) more than `retentionDays` ago, with those deliveries (the
 * delivery log). An event not yet dispatched, or with a delivery still
 * pending or ended recently, is never touched. One statement per batch.
 */
export function createWebhookRetention(p: Platform, settings: { retentionDays: number; batchSize?: number }) {
  const batchSize = settings.batchSize ?? 5_000;

  async function purgeDeliveredEvents(): Promise<{ events: number; deliveries: number }> {
    const at = new Date(p.clock.now().getTime() - settings.retentionDays * DAY_MS);
    let deliveries = 0;
    const events = await inBatches(async () => {
      const [row] = await queryRows<{ events: number; deliveries: number }>(
        p.db,
        `with doomed as (
           select e.id from outbox_events e
           where e.id < $1 and e.dispatched_at < $2::timestamptz
             and not exists (select 1 from webhook_deliveries d where d.event_id = e.id and (d.status = 'pending' or d.updated_at >= $2::timestamptz))
           order by e.id limit $3
           for update of e skip locked
         ), gone_deliveries as (
           -- a delivery sent again meanwhile (pending) stays; with its event gone, the sender cancels it
           delete from webhook_deliveries d using doomed where d.event_id = doomed.id and d.status <> 'pending' returning 1
         ), gone_events as (
           delete from outbox_events e using doomed where e.id = doomed.id returning 1
         )
         select (select count(*) from gone_events)::int as events, (select count(*) from gone_deliveries)::int as deliveries`,
        [idFloor('evt', at), at.toISOString(), batchSize],
      );
      deliveries += Number(row?.deliveries ?? 0);
      return Number(row?.events ?? 0);
    }, batchSize);
    return { events, deliveries };
  }

  return { purgeDeliveredEvents };
}

export type WebhookRetention = ReturnType<typeof createWebhookRetention>;
