import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { ManualClock, MINUTE } from '../../src/lib/clock.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { approvalsNeeded, canMove, checkDailyLimits, chinaDayStart } from '../../src/modules/withdrawals/fees.js';
import { verifyBooks } from '../../src/modules/ledger/reconciliation.js';

/**
 * Withdrawal controls: two different finance staff approve large amounts,
 * whoever approved does not record the payment, per-agent daily amount and
 * count limits (China Standard Time days), and a frozen agent's withdrawals
 * are neither approved nor paid. Defaults: dual approval from 500000 fen,
 * 5000000 fen and 3 withdrawals a day.
 */
// 11:00 in Shanghai.
const clock = new ManualClock('2026-07-01T03:00:00Z');
let t: TestApp;
let finance1: string;
let finance2: string;
let finance3: string;
let owner: string;
beforeAll(async () => {
  // The risk gate runs but with no rules: this file buys and withdraws many times per account at a frozen clock, which
  // the velocity rules rightly challenge; the gate's rules are tested in test/risk/gate.test.ts.
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', WITHDRAWAL_MIN_FEN: '10000', RISK_SEED_RULES: 'false' } });
  owner = (await t.loginAs('owner')).token;
  finance1 = (await t.loginAs('finance')).token;
  finance2 = (await t.loginAs('finance')).token;
  finance3 = (await t.loginAs('finance')).token;
});
afterAll(() => t.close());

async function agentWithKey(commissionFen: number) {
  const agent = await t.services.agents.create({ name: 'Agent', role: 'group_leader' });
  await t.platform.db.transaction((tx) =>
    t.services.ledger.post(tx, { kind: 'commission_settled', refType: 'test', refId: agent.id, postings: [{ account: accounts.commissionExpense, amountFen: -commissionFen }, { account: accounts.commissionAvailable(agent.id), amountFen: commissionFen }] }),
  );
  const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'agent', owner_id: agent.id, name: 'bot' } })).json() as { id: string; secret: string };
  let n = 0;
  const withdraw = (amountFen: number) => {
    const url = '/open/v1/withdrawals';
    const raw = JSON.stringify({ amount_fen: amountFen, method: 'bank_transfer', payout_account: '6222021234567890123' });
    return t.inject({ method: 'POST', url, payload: raw, headers: { 'content-type': 'application/json', 'idempotency-key': `rules-${agent.id}-${++n}`, ...signedHeaders(key.id, key.secret, 'POST', url, raw, clock.now()) } });
  };
  return { agent, withdraw };
}

const act = (token: string, id: string, what: 'approve' | 'pay' | 'reject') =>
  t.inject({ method: 'POST', url: `/admin/withdrawals/${id}/${what}`, headers: bearer(token), payload: what === 'pay' ? { reference: `REF-${id.slice(-6)}` } : what === 'reject' ? { reason: 'checked and refused' } : undefined });
const available = (agentId: string) => t.services.ledger.balance(accounts.commissionAvailable(agentId).id);

describe('withdrawal control rules (pure)', () => {
  it('two approvers from the threshold on; limits name amount_fen; China days', () => {
    expect(approvalsNeeded(499_999, 500_000)).toBe(1);
    expect(approvalsNeeded(500_000, 500_000)).toBe(2);
    expect(canMove('requested', 'awaiting_second_approval')).toBe(true);
    expect(canMove('awaiting_second_approval', 'approved')).toBe(true);
    expect(canMove('awaiting_second_approval', 'paid')).toBe(false);
    expect(canMove('awaiting_second_approval', 'rejected')).toBe(true);
    const limits = { dualApprovalFen: 500_000, dailyLimitFen: 1_000_000, dailyCount: 3 };
    expect(checkDailyLimits(400_000, { count: 2, amountFen: 600_000 }, limits)).toBeNull();
    expect(checkDailyLimits(400_001, { count: 2, amountFen: 600_000 }, limits)?.details).toMatchObject([{ field: 'amount_fen', code: 'DAILY_AMOUNT_LIMIT', left_fen: 400_000 }]);
    expect(checkDailyLimits(1, { count: 3, amountFen: 0 }, limits)?.details).toMatchObject([{ field: 'amount_fen', code: 'DAILY_COUNT_LIMIT' }]);
    expect(chinaDayStart(new Date('2026-07-01T15:59:59Z'))).toEqual(new Date('2026-06-30T16:00:00Z'));
    expect(chinaDayStart(new Date('2026-07-01T16:00:00Z'))).toEqual(new Date('2026-07-01T16:00:00Z'));
  });
});

describe('dual approval and separation of duties', () => {
  it('at or above 5000 yuan two different finance staff approve; the same one twice is 409; an approver cannot pay', async () => {
    const { agent, withdraw } = await agentWithKey(1_000_000);
    const w = (await withdraw(500_000)).json();
    expect(w).toMatchObject({ status: 'requested', approvals_needed: 2, first_approved_by: null });

    const first = await act(finance1, w.id, 'approve');
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ status: 'awaiting_second_approval', approved_by: null });
    expect(first.json().first_approved_by).toBeTruthy();
    // Not payable yet.
    expect((await act(finance3, w.id, 'pay')).statusCode).toBe(409);

    const again = await act(finance1, w.id, 'approve');
    expect(again.statusCode).toBe(409);
    expect(again.json().error.message).toMatch(/already gave the first approval.*different finance staff/);
    expect(again.json().error.details).toMatchObject({ code: 'SAME_APPROVER' });

    const second = await act(finance2, w.id, 'approve');
    expect(second.statusCode).toBe(200);
    expect(second.json().status).toBe('approved');
    expect(second.json().approved_by).not.toBe(first.json().first_approved_by);
    expect((await act(finance3, w.id, 'approve')).statusCode).toBe(409);

    // Neither approver may record the payment; a third finance member does.
    for (const approver of [finance1, finance2]) {
      const res = await act(approver, w.id, 'pay');
      expect(res.statusCode).toBe(403);
      expect(res.json().error.details).toMatchObject({ code: 'APPROVER_CANNOT_PAY' });
    }
    const paid = await act(finance3, w.id, 'pay');
    expect(paid.statusCode).toBe(200);
    expect(paid.json().status).toBe('paid');
    expect(await available(agent.id)).toBe(500_000);

    const audit = (await t.services.audit.list({ limit: 100 })).data.filter((a) => a.target_id === w.id).map((a) => a.action);
    expect(audit.sort()).toEqual(['withdrawal.approved', 'withdrawal.first_approval', 'withdrawal.paid', 'withdrawal.requested']);
  });

  it('below the threshold one approval is enough; a half-approved withdrawal can be rejected', async () => {
    const { agent, withdraw } = await agentWithKey(1_000_000);
    const small = (await withdraw(499_999)).json();
    expect(small.approvals_needed).toBe(1);
    expect((await act(finance1, small.id, 'approve')).json().status).toBe('approved');
    expect((await act(finance1, small.id, 'pay')).statusCode).toBe(403);
    expect((await act(finance2, small.id, 'pay')).statusCode).toBe(200);

    const big = (await withdraw(500_001)).json();
    expect((await act(finance1, big.id, 'approve')).json().status).toBe('awaiting_second_approval');
    const rejected = await act(finance1, big.id, 'reject');
    expect(rejected.statusCode).toBe(200);
    expect(await available(agent.id)).toBe(1_000_000 - 499_999);
  });
});

describe('daily limits per agent (China Standard Time day)', () => {
  it('at most 3 withdrawals a day (rejected ones not counted); the count starts again at midnight Shanghai time', async () => {
    // 23:50 in Shanghai, 15:50 UTC.
    clock.set(new Date('2026-07-02T15:50:00Z'));
    const { withdraw } = await agentWithKey(1_000_000);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await withdraw(10_000);
      expect(res.statusCode).toBe(201);
      ids.push(res.json().id);
    }
    const fourth = await withdraw(10_000);
    expect(fourth.statusCode).toBe(422);
    expect(fourth.json().error.details).toMatchObject([{ field: 'amount_fen', code: 'DAILY_COUNT_LIMIT' }]);

    expect((await act(finance1, ids[0]!, 'reject')).statusCode).toBe(200);
    expect((await withdraw(10_000)).statusCode).toBe(201);
    expect((await withdraw(10_000)).statusCode).toBe(422);

    // 00:01 in Shanghai (still the same UTC day): a new day.
    clock.advance(11 * MINUTE);
    expect((await withdraw(10_000)).statusCode).toBe(201);
  });

  it('at most 50000 yuan a day, counted across the day\'s withdrawals', async () => {
    clock.set(new Date('2026-07-03T02:00:00Z'));
    const { agent, withdraw } = await agentWithKey(9_000_000);
    expect((await withdraw(3_000_000)).statusCode).toBe(201);
    const over = await withdraw(2_000_001);
    expect(over.statusCode).toBe(422);
    expect(over.json().error.details).toMatchObject([{ field: 'amount_fen', code: 'DAILY_AMOUNT_LIMIT', daily_limit_fen: 5_000_000, today_fen: 3_000_000, left_fen: 2_000_000 }]);
    expect(await available(agent.id)).toBe(6_000_000);
    expect((await withdraw(2_000_000)).statusCode).toBe(201);
    expect(await available(agent.id)).toBe(4_000_000);
    clock.advance(24 * 60 * MINUTE);
    expect((await withdraw(10_000)).statusCode).toBe(201);
  });
});

describe('frozen agents', () => {
  it("a frozen agent's pending withdrawals can be neither approved nor paid; rejecting gives the money back", async () => {
    clock.set(new Date('2026-07-05T02:00:00Z'));
    const { agent, withdraw } = await agentWithKey(100_000);
    const a = (await withdraw(30_000)).json();
    const b = (await withdraw(30_000)).json();
    expect((await act(finance1, b.id, 'approve')).statusCode).toBe(200);
    await t.services.agents.freeze(agent.id, 'diversion review', { id: 'stf_test' });

    const approve = await act(finance1, a.id, 'approve');
    expect(approve.statusCode).toBe(403);
    expect(approve.json().error.details).toMatchObject({ code: 'AGENT_NOT_ACTIVE', status: 'frozen' });
    const pay = await act(finance2, b.id, 'pay');
    expect(pay.statusCode).toBe(403);
    expect(pay.json().error.details).toMatchObject({ code: 'AGENT_NOT_ACTIVE' });
    expect((await t.services.withdrawals.get(b.id)).status).toBe('approved');

    expect((await act(finance1, a.id, 'reject')).statusCode).toBe(200);
    expect(await available(agent.id)).toBe(70_000);

    await t.services.agents.unfreeze(agent.id, 'cleared', { id: 'stf_test' });
    expect((await act(finance2, b.id, 'pay')).statusCode).toBe(200);
    const v = await verifyBooks(t.platform);
    expect(v.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([]);
  });
});
