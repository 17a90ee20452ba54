import { describe, expect, it } from 'vitest';
import { canApply, nextStatus, OrderTransitionError } from './order-state.js';

describe('order state machine', () => {
  it('the normal path and its branches', () => {
    expect(nextStatus('pending_payment', 'pay')).toBe('paid');
    expect(nextStatus('paid', 'fulfil')).toBe('fulfilling');
    expect(nextStatus('fulfilling', 'deliver')).toBe('delivered');
    expect(nextStatus('fulfilling', 'await_stock')).toBe('paid_awaiting_stock');
    expect(nextStatus('paid_awaiting_stock', 'fulfil')).toBe('fulfilling');
    expect(nextStatus('pending_payment', 'cancel')).toBe('cancelled');
    expect(nextStatus('cancelled', 'pay')).toBe('paid'); // a payment that arrives after the deadline
    expect(nextStatus('delivered', 'refund_partly')).toBe('partially_refunded');
    expect(nextStatus('partially_refunded', 'refund')).toBe('refunded');
  });

  it('a held order is approved into the normal path or rejected into cancelled, and nothing else', () => {
    expect(nextStatus('held_for_review', 'approve')).toBe('pending_payment');
    expect(nextStatus(nextStatus('held_for_review', 'approve'), 'pay')).toBe('paid');
    expect(nextStatus('held_for_review', 'reject')).toBe('cancelled');
    for (const event of ['pay', 'cancel', 'fulfil', 'deliver', 'refund', 'fail'] as const) expect(canApply('held_for_review', event)).toBe(false);
    for (const from of ['pending_payment', 'cancelled', 'delivered', 'paid'] as const) {
      expect(canApply(from, 'approve')).toBe(false);
      expect(canApply(from, 'reject')).toBe(false);
    }
  });

  it('refuses impossible transitions as a 409 conflict', () => {
    for (const [from, event] of [
      ['delivered', 'pay'],
      ['refunded', 'refund'],
      ['cancelled', 'deliver'],
      ['pending_payment', 'deliver'],
      ['paid', 'cancel'],
      ['refunded', 'pay'],
      ['held_for_review', 'pay'],
      ['cancelled', 'approve'],
    ] as const) {
      expect(canApply(from, event)).toBe(false);
      expect(() => nextStatus(from, event)).toThrow(OrderTransitionError);
      try {
        nextStatus(from, event);
      } catch (e) {
        expect((e as OrderTransitionError).status).toBe(409);
      }
    }
  });
});
