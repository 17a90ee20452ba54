import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { ManualClock } from '../../src/lib/clock.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { verifyBooks } from '../../src/modules/ledger/reconciliation.js';

/**
 * Properties over random trees, rules and order/refund sequences, through
 * the real services on a real database: every level receives exactly what
 * its rule says, never more than the margin in total, refunds in any
 * pieces (before or after settlement) leave every agent and the buyer as
 * before, and the books agree throughout.
 */
const DAY = 86_400_000;
const clock = new ManualClock('2026-06-01T02:00:00Z');
let t: TestApp;
beforeAll(async () => {
  t = await bootTestApp({ clock });
});
afterAll(() => t.close());

const PRICE = 10_000;
const COST = 6_000;
const levelRule = fc.oneof(
  fc.integer({ min: 0, max: 1_200 }).map((bps) => ({ kind: 'percent_of_price' as const, bps })),
  fc.integer({ min: 0, max: 2_500 }).map((bps) => ({ kind: 'percent_of_margin' as const, bps })),
  fc.integer({ min: 0, max: 1_000 }).map((fen) => ({ kind: 'fixed' as const, fen })),
);
const scenario = fc.record({
  depth: fc.integer({ min: 1, max: 5 }),
  levels: fc.array(levelRule, { minLength: 1, maxLength: 3 }),
  quantity: fc.integer({ min: 1, max: 4 }),
  // Refunds in pieces (quantities), cut from the order's units; settled before refunding or not.
  cuts: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
  settleFirst: fc.boolean(),
});

const expectedFor = (rule: { kind: string; bps?: number; fen?: number }, quantity: number) => {
  if (rule.kind === 'percent_of_price') return Math.floor((PRICE * quantity * rule.bps!) / 10_000);
  if (rule.kind === 'percent_of_margin') return Math.floor(((PRICE - COST) * quantity * rule.bps!) / 10_000);
  return rule.fen! * quantity;
};

describe('commission properties (real services and database)', () => {
  it('exact per level, within the margin, undone by refunds in any pieces; the books agree', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        n++;
        // A fresh chain root -> ... -> leaf, and a product of its own with the rule.
        const chain: { id: string }[] = [];
        let parentId: string | undefined;
        for (let d = 0; d < s.depth; d++) {
          const a = await t.services.agents.create({ name: `p${n}-${d}`, role: d === 0 ? 'distributor' : 'group_leader', parentId });
          chain.unshift(a);
          parentId = a.id;
        }
        const leaf = chain[0]!;
        await t.services.orders.creditBalance({ type: 'agent', id: leaf.id }, 100_000, `prop-${n}`, { id: 'stf_prop' });
        const sku = await createCodeSku(t, { retailPriceFen: PRICE, costFen: COST });
        await stockCodes(t, sku, s.quantity);
        const productId = (await t.services.catalog.getSku(sku)).productId;
        // The clock moves days per run: a fresh session each time.
        const owner = (await t.loginAs('owner')).token;
        const rule = await t.inject({ method: 'POST', url: '/admin/commission-rules', headers: bearer(owner), payload: { name: `prop ${n}`, scope_type: 'product', scope_value: productId, levels: s.levels } });
        expect(rule.statusCode, rule.body).toBe(201);

        const order = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'agent', id: leaf.id }, skuId: sku, quantity: s.quantity, channel: 'admin', payment: 'balance' }, tx));
        await t.services.commissions.accrueDelivered();
        const earned = async () => Promise.all(chain.map(async (a) => (await t.services.ledger.balance(accounts.commissionPending(a.id).id)) + (await t.services.ledger.balance(accounts.commissionAvailable(a.id).id))));
        const expected = chain.map((_, i) => (i < s.levels.length ? expectedFor(s.levels[i]!, s.quantity) : 0));
        expect(await earned()).toEqual(expected);
        expect(expected.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual((PRICE - COST) * s.quantity);

        if (s.settleFirst) {
          clock.advance(8 * DAY);
          await t.services.commissions.settleDue();
        }
        let left = s.quantity;
        for (const cut of s.cuts) {
          if (left === 0) break;
          const q = Math.min(cut, left);
          await t.services.orders.refund(order.id, { reason: 'property refund', quantity: q }, { id: 'stf_prop', type: 'system' });
          left -= q;
        }
        if (left > 0) await t.services.orders.refund(order.id, { reason: 'property refund, the rest' }, { id: 'stf_prop', type: 'system' });

        expect(await earned()).toEqual(chain.map(() => 0));
        expect(await t.services.ledger.balance(accounts.agentBalance(leaf.id).id)).toBe(100_000);
        const books = await verifyBooks(t.platform);
        expect(books.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([]);
      }),
      { numRuns: 12 },
    );
    expect(await t.services.ledger.globalSum()).toBe(0);
  });
});
