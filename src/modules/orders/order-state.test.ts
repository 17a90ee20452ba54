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

  it('refuses impossible transitions as a 409 conflict', () => {
    for (const [from, event] of [
      ['delivered', 'pay'],
      ['refunded', 'refund'],
      ['cancelled', 'deliver'],
      ['pending_payment', 'deliver'],
      ['paid', 'cancel'],
      ['refunded', 'pay'],
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
