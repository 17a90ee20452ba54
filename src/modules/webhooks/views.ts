import type { webhookEndpoints } from './schema.js';

/**
 * Event types a partner may subscribe to. Add a type here before enqueueing
 * it; endpoints subscribe to names from this list only.
 */
export const webhookEventTypes = ['order.created', 'order.paid', 'order.delivered', 'order.refunded', 'order.cancelled', 'stock.low', 'supplier.down', 'after_sales.decided'] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];
export const isWebhookEventType = (t: string): t is WebhookEventType => (webhookEventTypes as readonly string[]).includes(t);

export const endpointOwnerTypes = ['partner', 'agent'] as const;
export type EndpointOwnerType = (typeof endpointOwnerTypes)[number];

/**
 * pending: waiting for its next attempt (or leased by a worker sending it now);
 * succeeded: a 2xx came back; dead: still failing 3 days after the event;
 * cancelled: its endpoint was disabled before it got through.
 */
export const deliveryStatuses = ['pending', 'succeeded', 'dead', 'cancelled'] as const;
export type DeliveryStatus = (typeof deliveryStatuses)[number];

/** Who did it, for the audit trail: a staff member (admin API) or an API key (open API). */
export interface WebhookActor {
  type: 'staff' | 'api_key';
  id: string;
  ip?: string;
}

/** Restricts an operation to one owner's endpoints (the open API's caller). */
export interface OwnerScope {
  ownerType: string;
  ownerId: string;
}

export interface EndpointView {
  id: string;
  owner_type: string;
  owner_id: string;
  url: string;
  events: string[];
  status: string;
  created_at: string;
}

export interface DeliveryView {
  id: string;
  event_id: string;
  event_type: string;
  endpoint_id: string;
  url: string;
  status: string;
  attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
}

/** Never carries the secret, sealed or not. */
export function toEndpointView(e: typeof webhookEndpoints.$inferSelect): EndpointView {
  return { id: e.id, owner_type: e.ownerType, owner_id: e.ownerId, url: e.url, events: e.events, status: e.status, created_at: e.createdAt.toISOString() };
}
