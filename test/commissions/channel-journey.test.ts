import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { ManualClock } from '../../src/lib/clock.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { verifyBooks } from '../../src/modules/ledger/reconciliation.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';

/**
 * The channel end to end: a three-level tree sells through the open API,
 * the accrual job books the commissions, a refund takes its share back, the
 * settlement job releases them after the hold (clock moved), the seller
 * withdraws, finance approves and pays, and the statement matches the ledger.
 */
const DAY = 86_400_000;
const clock = new ManualClock('2026-05-12T03:00:00Z');
let t: TestApp;
let owner: string;
let finance: string;
// Whoever approves a withdrawal may not also record its payment: a second finance member pays.
let cashier: string;
beforeAll(async () => {
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', WITHDRAWAL_MIN_FEN: '1000' } });
  owner = (await t.loginAs('owner')).token;
  finance = (await t.loginAs('finance')).token;
  cashier = (await t.loginAs('finance')).token;
});
afterAll(() => t.close());

const balance = (account: { id: string }) => t.services.ledger.balance(account.id);

describe('a three-level channel', () => {
  it('sells, accrues, refunds in part, settles after the hold, withdraws, and the books and the statement agree', async () => {
    const root = await t.services.agents.create({ name: 'Distributor', role: 'distributor' });
    const mid = await t.services.agents.create({ name: 'Sub-agent', role: 'sub_agent', parentId: root.id });
    const leaf = await t.services.agents.create({ name: 'Group leader', role: 'group_leader', parentId: mid.id });
    await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'agent', buyer_id: leaf.id, amount_fen: 200_000, reference: 'bank transfer' } });
    const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'agent', owner_id: leaf.id, name: 'bot' } })).json() as { id: string; secret: string };
    const signed = (method: 'GET' | 'POST', url: string, body?: object, idem?: string) => {
      const raw = body ? JSON.stringify(body) : '';
      return t.inject({ method, url, payload: raw || undefined, headers: { ...(raw ? { 'content-type': 'application/json' } : {}), ...(idem ? { 'idempotency-key': idem } : {}), ...signedHeaders(key.id, key.secret, method, url, raw, clock.now()) } });
    };

    // Price 100 yuan, cost 80: 10% / 3% / 1% of the price, well inside the 20 yuan margin.
    const sku = await createCodeSku(t, { retailPriceFen: 10_000, costFen: 8_000 });
    await stockCodes(t, sku, 10);
    const productId = (await t.services.catalog.getSku(sku)).productId;
    const rule = await t.inject({ method: 'POST', url: '/admin/commission-rules', headers: bearer(owner), payload: { name: '10/3/1', scope_type: 'product', scope_value: productId, levels: [{ kind: 'percent_of_price', bps: 1000 }, { kind: 'percent_of_price', bps: 300 }, { kind: 'percent_of_price', bps: 100 }] } });
    expect(rule.statusCode).toBe(201);

    const a = await signed('POST', '/open/v1/orders', { sku_id: sku, quantity: 3, payment: 'balance' }, 'journey-order-a');
    const b = await signed('POST', '/open/v1/orders', { sku_id: sku, quantity: 2, payment: 'balance' }, 'journey-order-b');
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    const orderA = a.json().order as { id: string };
    const orderB = b.json().order as { id: string };
    // Order B is refunded in part (one unit, revealed to the API caller: an after-sales decision) before the
    // accrual job sees it: it accrues on what is left.
    const partly = await t.inject({ method: 'POST', url: `/admin/orders/${orderB.id}/refund`, headers: bearer(finance), payload: { reason: 'one code did not work', quantity: 1, after_sales: true } });
    expect(partly.json().order.status).toBe('partially_refunded');

    // Selling does not wait for commissions; the job books them, once.
    expect(await balance(accounts.commissionPending(leaf.id))).toBe(0);
    expect(await Promise.all([t.services.commissions.accrueDelivered(), t.services.commissions.accrueDelivered()]).then((r) => r[0] + r[1])).toBe(2);
    expect(await t.services.commissions.accrueDelivered()).toBe(0);
    // A: 3 units; B: 1 unit left. Leaf 10% of 400 yuan, mid 3%, root 1%.
    expect([await balance(accounts.commissionPending(leaf.id)), await balance(accounts.commissionPending(mid.id)), await balance(accounts.commissionPending(root.id))]).toEqual([4_000, 1_200, 400]);

    // A refund after accrual takes back its share at once (one unit of A).
    await t.inject({ method: 'POST', url: `/admin/orders/${orderA.id}/refund`, headers: bearer(finance), payload: { reason: 'one code did not work', quantity: 1, after_sales: true } });
    expect([await balance(accounts.commissionPending(leaf.id)), await balance(accounts.commissionPending(mid.id)), await balance(accounts.commissionPending(root.id))]).toEqual([3_000, 900, 300]);

    // Nothing is available before the hold ends; after it, all of it, once.
    expect(await t.services.commissions.settleDue()).toBe(0);
    clock.advance(8 * DAY);
    expect(await t.services.commissions.settleDue()).toBeGreaterThan(0);
    expect(await t.services.commissions.settleDue()).toBe(0);
    expect([await balance(accounts.commissionAvailable(leaf.id)), await balance(accounts.commissionAvailable(mid.id)), await balance(accounts.commissionAvailable(root.id))]).toEqual([3_000, 900, 300]);

    // The group leader withdraws 20 yuan; finance approves and pays it.
    const w = await signed('POST', '/open/v1/withdrawals', { amount_fen: 2_000, method: 'wechat_transfer', payout_account: 'o-leader-openid-1' }, 'journey-withdrawal-1');
    expect(w.statusCode).toBe(201);
    const wid = w.json().id as string;
    expect((await t.inject({ method: 'POST', url: `/admin/withdrawals/${wid}/approve`, headers: bearer(finance) })).statusCode).toBe(200);
    const paid = await t.inject({ method: 'POST', url: `/admin/withdrawals/${wid}/pay`, headers: bearer(cashier), payload: { reference: 'WX-TRANSFER-0001' } });
    expect(paid.statusCode).toBe(200);
    expect(paid.json().status).toBe('paid');
    expect(await balance(accounts.commissionAvailable(leaf.id))).toBe(1_000);

    // The leader's own statement for the period matches the ledger.
    const day = (d: Date) => new Date(d.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
    const from = day(new Date(clock.now().getTime() - 9 * DAY));
    const statement = await signed('GET', `/open/v1/statement?from=${from}&to=${day(clock.now())}&format=json`);
    expect(statement.statusCode).toBe(200);
    const byKind = { agent_balance: accounts.agentBalance(leaf.id), commission_pending: accounts.commissionPending(leaf.id), commission_available: accounts.commissionAvailable(leaf.id) } as const;
    const summaries = statement.json().accounts as { kind: keyof typeof byKind; closing_fen: number }[];
    expect(summaries.map((a) => a.kind).sort()).toEqual(Object.keys(byKind).sort());
    for (const acc of summaries) expect([acc.kind, acc.closing_fen]).toEqual([acc.kind, await balance(byKind[acc.kind])]);
    expect(summaries.find((x) => x.kind === 'commission_available')?.closing_fen).toBe(1_000);

    const books = await verifyBooks(t.platform);
    expect(books.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([]);
    expect(await t.services.ledger.globalSum()).toBe(0);
  });
});
