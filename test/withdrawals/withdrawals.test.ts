import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ExcelJS from 'exceljs';
import Papa from 'papaparse';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { ManualClock, MINUTE } from '../../src/lib/clock.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { queryRows } from '../../src/db/raw.js';
import { quoteWithdrawal, withdrawalFee, maskPayoutAccount, canMove } from '../../src/modules/withdrawals/fees.js';
import { statementPeriod } from '../../src/modules/withdrawals/statement.js';

const clock = new ManualClock(new Date());
let t: TestApp;
let finance: string;
// Whoever approves a withdrawal may not also record its payment: a second finance member pays.
let cashier: string;
let owner: string;
let support: string;
beforeAll(async () => {
  // A 1% fee, at least 2 yuan, on withdrawals of at least 100 yuan.
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', WITHDRAWAL_MIN_FEN: '10000', WITHDRAWAL_FEE_BPS: '100', WITHDRAWAL_FEE_MIN_FEN: '200' } });
  finance = (await t.loginAs('finance')).token;
  cashier = (await t.loginAs('finance')).token;
  owner = (await t.loginAs('owner')).token;
  support = (await t.loginAs('support')).token;
});
afterAll(() => t.close());

/** Gives an agent available commission the way settled commission arrives: from the platform's commission expense. */
async function giveCommission(agentId: string, fen: number) {
  await t.platform.db.transaction((tx) =>
    t.services.ledger.post(tx, { kind: 'commission_settled', refType: 'test', refId: agentId, postings: [{ account: accounts.commissionExpense, amountFen: -fen }, { account: accounts.commissionAvailable(agentId), amountFen: fen }] }),
  );
}

async function agentWithKey(commissionFen: number) {
  const agent = await t.services.agents.create({ name: 'Agent', role: 'group_leader' });
  if (commissionFen > 0) await giveCommission(agent.id, commissionFen);
  const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'agent', owner_id: agent.id, name: 'bot' } })).json() as { id: string; secret: string };
  const call = (method: 'GET' | 'POST', url: string, body?: object, idem?: string) => {
    const raw = body ? JSON.stringify(body) : '';
    return t.inject({ method, url, payload: raw || undefined, headers: { ...(raw ? { 'content-type': 'application/json' } : {}), ...(idem ? { 'idempotency-key': idem } : {}), ...signedHeaders(key.id, key.secret, method, url, raw, clock.now()) } });
  };
  return { agent, call };
}

const available = (agentId: string) => t.services.ledger.balance(accounts.commissionAvailable(agentId).id);
const pending = () => t.services.ledger.balance(accounts.withdrawalsPending.id);
const admin = (token: string, method: 'GET' | 'POST', url: string, payload?: object) => t.inject({ method, url, headers: bearer(token), payload });
const bank = { method: 'bank_transfer', payout_account: '6222 0212 3456 7890 123' };
const today = () => new Date(clock.now().getTime() + 8 * 3600_000).toISOString().slice(0, 10);

describe('withdrawal rules (pure)', () => {
  const rule = { minFen: 10_000, feeBps: 100, feeMinFen: 200 };
  it('fee: bps of the amount, never below the minimum fee; amounts checked with the field named', () => {
    expect(withdrawalFee(10_000, rule)).toBe(200);
    expect(withdrawalFee(50_050, rule)).toBe(501);
    expect(withdrawalFee(50_000, { ...rule, feeBps: 0, feeMinFen: 0 })).toBe(0);
    expect(quoteWithdrawal(30_000, rule)).toEqual({ feeFen: 300, netFen: 29_700 });
    expect(() => quoteWithdrawal(9_999, rule)).toThrow(/amount_fen/);
    expect(() => quoteWithdrawal(10_000, { ...rule, feeMinFen: 10_000 })).toThrow(/whole amount/);
    expect(maskPayoutAccount('6222021234567890123')).toBe('********0123');
    expect(canMove('requested', 'approved')).toBe(true);
    expect(canMove('approved', 'approved')).toBe(false);
    expect(canMove('paid', 'rejected')).toBe(false);
    expect(canMove('requested', 'paid')).toBe(false);
  });
  it('statement periods are whole days in UTC+8, checked', () => {
    expect(statementPeriod('2026-01-01', '2026-01-31')).toEqual({ start: new Date('2025-12-31T16:00:00Z'), end: new Date('2026-01-31T16:00:00Z') });
    expect(() => statementPeriod('2026-02-30', '2026-03-01')).toThrow(/from/);
    expect(() => statementPeriod('2026-03-02', '2026-03-01')).toThrow(/to/);
    expect(() => statementPeriod('2024-01-01', '2026-03-01')).toThrow(/366/);
  });
});

describe('agents request withdrawals through the signed API', () => {
  it('moves the money to pending at once, masks the account, replays the same key, refuses too little and too much', async () => {
    const { agent, call } = await agentWithKey(50_000);
    const res = await call('POST', '/open/v1/withdrawals', { amount_fen: 30_000, ...bank }, 'wdr-key-0001');
    expect(res.statusCode).toBe(201);
    const w = res.json();
    expect(w).toMatchObject({ agent_id: agent.id, amount_fen: 30_000, fee_fen: 300, net_fen: 29_700, status: 'requested', method: 'bank_transfer', payout_account: '********0123' });
    expect(res.body).not.toContain('6222');
    expect(await available(agent.id)).toBe(20_000);

    const again = await call('POST', '/open/v1/withdrawals', { amount_fen: 30_000, ...bank }, 'wdr-key-0001');
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(w.id);
    expect(await available(agent.id)).toBe(20_000);
    const other = await call('POST', '/open/v1/withdrawals', { amount_fen: 10_000, ...bank }, 'wdr-key-0001');
    expect(other.statusCode).toBe(422);
    expect(other.json().error.code).toBe('IDEMPOTENCY_CONFLICT');

    const small = await call('POST', '/open/v1/withdrawals', { amount_fen: 9_999, ...bank }, 'wdr-key-small');
    expect(small.statusCode).toBe(400);
    expect(small.json().error.details[0]).toMatchObject({ field: 'amount_fen', min_fen: 10_000 });
    const poor = await call('POST', '/open/v1/withdrawals', { amount_fen: 20_001, ...bank }, 'wdr-key-poor1');
    expect(poor.statusCode).toBe(422);
    expect(poor.json().error.details).toMatchObject({ code: 'INSUFFICIENT_FUNDS', field: 'amount_fen', available_fen: 20_000 });
    const badAccount = await call('POST', '/open/v1/withdrawals', { amount_fen: 10_000, method: 'bank_transfer', payout_account: 'not-a-number' }, 'wdr-key-bad01');
    expect(badAccount.json().error.details[0].field).toBe('payout_account');
    expect(await available(agent.id)).toBe(20_000);

    const mine = await call('GET', '/open/v1/withdrawals');
    expect(mine.json().data.map((x: { id: string }) => x.id)).toEqual([w.id]);
    expect((await t.services.ledger.verify()).ok).toBe(true);
  });

  it('a frozen agent cannot withdraw; a partner key cannot either', async () => {
    const { agent, call } = await agentWithKey(50_000);
    await queryRows(t.platform.db, `update agents set status = 'frozen' where id = $1`, [agent.id]);
    const res = await call('POST', '/open/v1/withdrawals', { amount_fen: 10_000, ...bank }, 'wdr-key-frozen');
    expect(res.statusCode).toBe(403);
    expect(res.json().error.message).toMatch(/frozen/);
    expect(await available(agent.id)).toBe(50_000);

    const partnerKey = (await admin(owner, 'POST', '/admin/api-keys', { owner_type: 'partner', owner_id: 'p-wdr', name: 'partner' })).json() as { id: string; secret: string };
    const raw = JSON.stringify({ amount_fen: 10_000, ...bank });
    const partner = await t.inject({ method: 'POST', url: '/open/v1/withdrawals', payload: raw, headers: { 'content-type': 'application/json', 'idempotency-key': 'wdr-key-partner', ...signedHeaders(partnerKey.id, partnerKey.secret, 'POST', '/open/v1/withdrawals', raw, clock.now()) } });
    expect(partner.statusCode).toBe(403);
  });

  it('requests at once cannot overdraw the available commission', async () => {
    const { agent, call } = await agentWithKey(100_000);
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => call('POST', '/open/v1/withdrawals', { amount_fen: 30_000, ...bank }, `wdr-key-race-${i}`)));
    const codes = results.map((r) => r.statusCode).sort();
    expect(codes).toEqual([201, 201, 201, 422, 422]);
    for (const r of results.filter((x) => x.statusCode === 422)) expect(r.json().error.details.code).toBe('INSUFFICIENT_FUNDS');
    expect(await available(agent.id)).toBe(10_000);
    expect((await t.services.ledger.verify()).ok).toBe(true);
  });
});

describe('finance approves, pays and rejects', () => {
  it('approve then pay: pending leaves, cash pays the net amount, the fee is income; each step audited; double clicks are 409', async () => {
    const { agent, call } = await agentWithKey(80_000);
    const pendingBefore = await pending();
    const cashBefore = await t.services.ledger.balance(accounts.cash.id);
    const feesBefore = await t.services.ledger.balance(accounts.withdrawalFees.id);
    const w = (await call('POST', '/open/v1/withdrawals', { amount_fen: 50_000, method: 'wechat_transfer', payout_account: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' }, 'wdr-key-pay01')).json();
    expect(w.fee_fen).toBe(500);
    expect(await pending()).toBe(pendingBefore + 50_000);

    const list = await admin(finance, 'GET', '/admin/withdrawals?status=requested&limit=100');
    expect(list.statusCode).toBe(200);
    expect(list.json().data.map((x: { id: string }) => x.id)).toContain(w.id);
    expect((await admin(finance, 'POST', `/admin/withdrawals/${w.id}/pay`, { reference: 'too early' })).statusCode).toBe(409);

    const approved = await admin(finance, 'POST', `/admin/withdrawals/${w.id}/approve`);
    expect(approved.statusCode).toBe(200);
    expect(approved.json().status).toBe('approved');
    const twice = await admin(finance, 'POST', `/admin/withdrawals/${w.id}/approve`);
    expect(twice.statusCode).toBe(409);
    expect(twice.json().error.details).toEqual({ status: 'approved' });

    const shown = await admin(finance, 'GET', `/admin/withdrawals/${w.id}/payout-account`);
    expect(shown.json().payout_account).toBe('oUpF8uMuAJO_M2pxb1Q9zNjWeS6o');

    const byApprover = await admin(finance, 'POST', `/admin/withdrawals/${w.id}/pay`, { reference: 'WX-TRANSFER-0001' });
    expect(byApprover.statusCode).toBe(403);
    expect(byApprover.json().error.details).toMatchObject({ code: 'APPROVER_CANNOT_PAY' });
    const paid = await admin(cashier, 'POST', `/admin/withdrawals/${w.id}/pay`, { reference: 'WX-TRANSFER-0001' });
    expect(paid.statusCode).toBe(200);
    expect(paid.json()).toMatchObject({ status: 'paid', payout_reference: 'WX-TRANSFER-0001', net_fen: 49_500 });
    expect((await admin(cashier, 'POST', `/admin/withdrawals/${w.id}/pay`, { reference: 'WX-TRANSFER-0001' })).statusCode).toBe(409);
    expect((await admin(finance, 'POST', `/admin/withdrawals/${w.id}/reject`, { reason: 'too late' })).statusCode).toBe(409);

    expect(await pending()).toBe(pendingBefore);
    expect(await t.services.ledger.balance(accounts.cash.id)).toBe(cashBefore + 49_500);
    expect(await t.services.ledger.balance(accounts.withdrawalFees.id)).toBe(feesBefore + 500);
    expect(await available(agent.id)).toBe(30_000);
    expect((await t.services.ledger.verify()).ok).toBe(true);

    const audit = (await t.services.audit.list({ limit: 100 })).data.filter((a) => a.target_id === w.id).map((a) => a.action);
    expect(audit.sort()).toEqual(['withdrawal.approved', 'withdrawal.paid', 'withdrawal.payout_account_revealed', 'withdrawal.requested']);
  });

  it('reject returns the money, from requested or approved', async () => {
    const { agent, call } = await agentWithKey(40_000);
    const a = (await call('POST', '/open/v1/withdrawals', { amount_fen: 15_000, ...bank }, 'wdr-key-rej01')).json();
    const b = (await call('POST', '/open/v1/withdrawals', { amount_fen: 20_000, ...bank }, 'wdr-key-rej02')).json();
    expect(await available(agent.id)).toBe(5_000);
    const r1 = await admin(finance, 'POST', `/admin/withdrawals/${a.id}/reject`, { reason: 'account name does not match' });
    expect(r1.json()).toMatchObject({ status: 'rejected', reject_reason: 'account name does not match' });
    expect((await admin(finance, 'POST', `/admin/withdrawals/${b.id}/approve`)).statusCode).toBe(200);
    expect((await admin(finance, 'POST', `/admin/withdrawals/${b.id}/reject`, { reason: 'bank refused the transfer' })).statusCode).toBe(200);
    expect((await admin(finance, 'POST', `/admin/withdrawals/${b.id}/reject`, { reason: 'again' })).statusCode).toBe(409);
    expect(await available(agent.id)).toBe(40_000);
    expect((await t.services.ledger.verify()).ok).toBe(true);
  });

  it('support may not see or move withdrawals', async () => {
    const { call } = await agentWithKey(20_000);
    const w = (await call('POST', '/open/v1/withdrawals', { amount_fen: 10_000, ...bank }, 'wdr-key-supp1')).json();
    expect((await admin(support, 'GET', '/admin/withdrawals')).statusCode).toBe(403);
    expect((await admin(support, 'POST', `/admin/withdrawals/${w.id}/approve`)).statusCode).toBe(403);
    expect((await admin(support, 'GET', `/admin/withdrawals/${w.id}/payout-account`)).statusCode).toBe(403);
    expect((await t.services.withdrawals.get(w.id)).status).toBe('requested');
  });
});

describe('statements', () => {
  it('JSON, CSV and XLSX carry opening, running and closing balances that match the ledger', async () => {
    const { agent, call } = await agentWithKey(70_000);
    // Yesterday's commission is the opening balance of today's statement.
    clock.advance(24 * 60 * MINUTE);
    await giveCommission(agent.id, 5_000);
    const w1 = (await call('POST', '/open/v1/withdrawals', { amount_fen: 40_000, ...bank }, 'wdr-key-stmt1')).json();
    const w2 = (await call('POST', '/open/v1/withdrawals', { amount_fen: 12_000, ...bank }, 'wdr-key-stmt2')).json();
    await admin(finance, 'POST', `/admin/withdrawals/${w2.id}/reject`, { reason: 'wrong account' });
    await admin(finance, 'POST', `/admin/withdrawals/${w1.id}/approve`);
    await admin(cashier, 'POST', `/admin/withdrawals/${w1.id}/pay`, { reference: 'BANK-REF-77' });
    const ledgerAvailable = await available(agent.id);
    expect(ledgerAvailable).toBe(70_000 + 5_000 - 40_000);

    const day = today();
    const json = await admin(finance, 'GET', `/admin/agents/${agent.id}/statement?from=${day}&to=${day}&format=json`);
    expect(json.statusCode).toBe(200);
    const s = json.json();
    const avail = s.accounts.find((a: { account: string }) => a.account === 'commission_available');
    expect(avail).toMatchObject({ opening_fen: 70_000, closing_fen: ledgerAvailable, closing_yuan: '350.00', credits_fen: 5_000 + 12_000, debits_fen: -52_000, entries: 4 });
    const lines = s.entries.filter((e: { account: string }) => e.account === 'commission_available');
    expect(lines.map((e: { kind: string }) => e.kind)).toEqual(['commission_settled', 'withdrawal_requested', 'withdrawal_requested', 'withdrawal_rejected']);
    expect(lines.map((e: { balance_fen: number }) => e.balance_fen)).toEqual([75_000, 35_000, 23_000, 35_000]);
    expect(lines[1]).toMatchObject({ amount_fen: -40_000, amount_yuan: '-400.00', ref_id: w1.id });
    for (const a of s.accounts) {
      const spec = a.account === 'agent_balance' ? accounts.agentBalance(agent.id) : a.account === 'commission_pending' ? accounts.commissionPending(agent.id) : accounts.commissionAvailable(agent.id);
      expect(a.closing_fen).toBe(await t.services.ledger.balance(spec.id));
    }

    // The whole history from the first day: opening 0, closing = the ledger.
    const yesterday = new Date(clock.now().getTime() + 8 * 3600_000 - 24 * 3600_000).toISOString().slice(0, 10);
    const whole = (await admin(finance, 'GET', `/admin/agents/${agent.id}/statement?from=${yesterday}&to=${day}`)).json();
    expect(whole.accounts.find((a: { account: string }) => a.account === 'commission_available')).toMatchObject({ opening_fen: 0, closing_fen: ledgerAvailable, entries: 5 });

    const csv = await admin(finance, 'GET', `/admin/agents/${agent.id}/statement?from=${day}&to=${day}&format=csv`);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    const parsed = Papa.parse<Record<string, string>>(csv.body.replace(/^\uFEFF/, ''), { header: true, skipEmptyLines: true }).data;
    const closing = parsed.find((r) => r.account === 'commission_available' && r.kind === 'closing_balance')!;
    expect(Number(closing.balance_fen)).toBe(ledgerAvailable);
    expect(closing.balance_yuan).toBe('350.00');
    const csvEntries = parsed.filter((r) => r.account === 'commission_available' && !r.kind!.endsWith('_balance'));
    expect(csvEntries.reduce((sum, r) => sum + Number(r.amount_fen), 0)).toBe(ledgerAvailable - 70_000);

    const xlsx = await admin(finance, 'GET', `/admin/agents/${agent.id}/statement?from=${day}&to=${day}&format=xlsx`);
    expect(xlsx.statusCode).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(xlsx.rawPayload as unknown as ArrayBuffer);
    const summary = wb.getWorksheet('Summary')!;
    let xlsxClosing: unknown;
    summary.eachRow((row) => {
      if (row.getCell(1).value === 'commission_available') xlsxClosing = row.getCell(7).value;
    });
    expect(xlsxClosing).toBe(ledgerAvailable);
    const entries = wb.getWorksheet('Entries')!;
    let xlsxSum = 0;
    entries.eachRow((row, n) => {
      if (n > 1 && row.getCell(1).value === 'commission_available' && !String(row.getCell(4).value).endsWith('_balance')) xlsxSum += Number(row.getCell(9).value);
    });
    expect(xlsxSum).toBe(ledgerAvailable - 70_000);

    // The agent reads its own statement through the open API; support may not read anyone's.
    const own = await call('GET', `/open/v1/statement?from=${day}&to=${day}&format=json`);
    expect(own.statusCode).toBe(200);
    expect(own.json().accounts).toEqual(s.accounts);
    expect((await admin(support, 'GET', `/admin/agents/${agent.id}/statement?from=${day}&to=${day}`)).statusCode).toBe(403);
    expect((await admin(finance, 'GET', `/admin/agents/${agent.id}/statement?from=${day}&to=2020-01-01`)).statusCode).toBe(400);
  });
});
