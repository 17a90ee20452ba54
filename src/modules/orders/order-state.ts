/**
 * The order state machine. A status changes only through `nextStatus`, and
 * the SQL that applies it re-reads the order under a row lock, so duplicated
 * or reordered signals (two payment notifications, a late one after the
 * deadline) meet a definite state and either do nothing or are refused.
 */
import { AppError } from '../../lib/errors.js';

export const orderStatuses = [
  /** The risk gate answered review: the order exists but holds no money and no stock until risk staff decide. */
  'held_for_review',
  'pending_payment',
  'paid',
  'paid_awaiting_stock',
  /** A group-buy member's order: paid, holding no codes, until its group fills (delivered) or expires (refunded). */
  'awaiting_group',
  'fulfilling',
  'delivered',
  'partially_delivered',
  'cancelled',
  'refunded',
  'partially_refunded',
  'failed',
] as const;
export type OrderStatus = (typeof orderStatuses)[number];

const transitions = {
  // A held order, once approved, continues as a new order would: pending payment (a balance order is then paid at once).
  approve: { from: ['held_for_review'], to: 'pending_payment' },
  reject: { from: ['held_for_review'], to: 'cancelled' },
  pay: { from: ['pending_payment', 'cancelled'], to: 'paid' },
  fulfil: { from: ['paid', 'paid_awaiting_stock', 'awaiting_group'], to: 'fulfilling' },
  await_group: { from: ['paid'], to: 'awaiting_group' },
  deliver: { from: ['fulfilling'], to: 'delivered' },
  deliver_partly: { from: ['fulfilling'], to: 'partially_delivered' },
  await_stock: { from: ['paid', 'fulfilling'], to: 'paid_awaiting_stock' },
  cancel: { from: ['pending_payment'], to: 'cancelled' },
  refund: { from: ['delivered', 'partially_delivered', 'partially_refunded', 'paid_awaiting_stock', 'awaiting_group'], to: 'refunded' },
  refund_partly: { from: ['delivered', 'partially_delivered', 'partially_refunded'], to: 'partially_refunded' },
  fail: { from: ['paid', 'fulfilling'], to: 'failed' },
} as const satisfies Record<string, { from: readonly OrderStatus[]; to: OrderStatus }>;

export type OrderEvent = keyof typeof transitions;

/** An impossible order transition is a conflict with the order's state (409), never a server error. */
export class OrderTransitionError extends AppError {
  constructor(
    readonly from: OrderStatus,
    readonly event: OrderEvent,
  ) {
    super('CONFLICT', `an order that is ${from} cannot ${event.replace('_', ' ')}`, { status: from, event });
  }
}

export function nextStatus(from: OrderStatus, event: OrderEvent): OrderStatus {
  const t = transitions[event];
  if (!(t.from as readonly OrderStatus[]).includes(from)) throw new OrderTransitionError(from, event);
  return t.to;
}

export function canApply(from: OrderStatus, event: OrderEvent): boolean {
  return (transitions[event].from as readonly OrderStatus[]).includes(from);
}
