import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { solveChallenge } from 'altcha-lib/v1';
import { bootTestApp, bearer, TEST_PASSWORD, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { ManualClock } from '../../src/lib/clock.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { deviceSignalsOf } from '../../src/modules/risk/gate-http.js';

/**
 * The risk gate in front of orders, staff login, agent join and withdrawals,
 * and the review queue, through HTTP on a real database. Rules that pick out
 * one case match a price nobody else uses (amountFen eq ...), so the cases do
 * not disturb each other or the built-in templates.
 */
const clock = new ManualClock(new Date());
let t: TestApp;
let owner: string;
let finance: string;
let cashier: string;
let riskStaff: string;
let support: string;
beforeAll(async () => {
  // A light captcha work factor keeps the solving in the tests quick.
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', RISK_CAPTCHA_MAX_NUMBER: '2000' } });
  owner = (await t.loginAs('owner')).token;
  finance = (await t.loginAs('finance')).token;
  cashier = (await t.loginAs('finance')).token;
  riskStaff = (await t.loginAs('risk')).token;
  support = (await t.loginAs('support')).token;
});
afterAll(() => t.close());

let ipSeq = 0;
const freshIp = () => `203.0.${113 - (++ipSeq >> 8)}.${ipSeq % 256}`;
const uniq = () => randomBytes(4).toString('hex');

async function apiKeyFor(ownerType: 'agent' | 'partner', ownerId: string) {
  const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: ownerType, owner_id: ownerId, name: 'bot' } })).json() as { id: string; secret: string };
  return (method: 'GET' | 'POST', url: string, o: { body?: object; idem?: string; ip?: string; headers?: Record<string, string> } = {}) => {
    const raw = o.body ? JSON.stringify(o.body) : '';
    return t.inject({
      method,
      url,
      payload: raw || undefined,
      remoteAddress: o.ip ?? '192.0.2.1',
      headers: { ...(raw ? { 'content-type': 'application/json' } : {}), ...(o.idem ? { 'idempotency-key': o.idem } : {}), ...o.headers, ...signedHeaders(key.id, key.secret, method, url, raw, clock.now()) },
    });
  };
}

async function agentWithKey(balanceFen: number, commissionFen = 0) {
  const agent = await t.services.agents.create({ name: 'Agent', role: 'group_leader' });
  if (balanceFen > 0) {
    const res = await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'agent', buyer_id: agent.id, amount_fen: balanceFen, reference: 'bank transfer' } });
    expect(res.statusCode).toBe(200);
  }
  if (commissionFen > 0) {
    await t.platform.db.transaction((tx) =>
      t.services.ledger.post(tx, { kind: 'commission_settled', refType: 'test', refId: agent.id, postings: [{ account: accounts.commissionExpense, amountFen: -commissionFen }, { account: accounts.commissionAvailable(agent.id), amountFen: commissionFen }] }),
    );
  }
  return { agent, call: await apiKeyFor('agent', agent.id) };
}

const stateCounts = async (sku: string) => Object.fromEntries((await t.platform.database.executeSql<{ state: string; n: number }>('select state, count(*)::int as n from codes where sku_id = $1 group by state', [sku])).rows.map((r) => [r.state, Number(r.n)]));
const balanceOf = (agentId: string) => t.services.ledger.balance(accounts.agentBalance(agentId).id);
const admin = (token: string, method: 'GET' | 'POST', url: string, payload?: object) => t.inject({ method, url, headers: bearer(token), payload });

/** A rule picking out one amount (so only its test's attempts match it). */
async function ruleOnAmount(action: 'challenge' | 'review', riskAction: 'order' | 'withdrawal', amountFen: number) {
  const res = await admin(owner, 'POST', '/admin/risk/rules', { name: `test ${action} ${amountFen}`, action, condition: { field: 'amountFen', op: 'eq', value: amountFen }, applies_to: [riskAction] });
  expect(res.statusCode).toBe(201);
}

async function solvedCaptcha(): Promise<string> {
  const c = (await t.inject({ method: 'GET', url: '/risk/captcha' })).json() as { algorithm: 'SHA-256'; challenge: string; salt: string; signature: string; maxnumber: number };
  const solution = await solveChallenge(c.challenge, c.salt, c.algorithm, c.maxnumber).promise;
  return Buffer.from(JSON.stringify({ algorithm: c.algorithm, challenge: c.challenge, number: solution!.number, salt: c.salt, signature: c.signature })).toString('base64');
}

async function decisionsOf(subject: string) {
  await t.services.risk.flush();
  return (await t.services.risk.listDecisions({ limit: 100, subject })).data;
}

describe('the gate in front of orders', () => {
  it('a block-listed IP: 403 RISK_BLOCKED with a support reference, no order, no stock touched, ledger unchanged; the key is free again', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    await stockCodes(t, sku, 3);
    const { agent, call } = await agentWithKey(50_000);
    const ip = freshIp();
    expect((await admin(owner, 'POST', '/admin/risk/lists', { type: 'ip', value: ip, reason: 'scraper' })).statusCode).toBe(201);

    const res = await call('POST', '/open/v1/orders', { body: { sku_id: sku, quantity: 1, payment: 'balance' }, idem: 'gate-block-0001', ip });
    expect(res.statusCode).toBe(403);
    const err = res.json().error;
    expect(err.code).toBe('RISK_BLOCKED');
    expect(err.message).toMatch(/rdc_[0-9A-Z]{26}/);
    expect(err.details.reference).toBe(err.message.match(/rdc_[0-9A-Z]{26}/)![0]);
    // The rule internals stay inside.
    expect(res.body).not.toMatch(/block_lists|Block listed|scraper|rrl_/);
    expect((await t.services.orders.list({ limit: 10, buyer: { type: 'agent', id: agent.id } })).data).toEqual([]);
    expect(await stateCounts(sku)).toEqual({ available: 3 });
    expect(await balanceOf(agent.id)).toBe(50_000);
    expect((await t.services.risk.getDecision(err.details.reference)).decision).toBe('block');

    // The refusal rolled back the key's claim: the same key from a clean address places the order.
    const ok = await call('POST', '/open/v1/orders', { body: { sku_id: sku, quantity: 1, payment: 'balance' }, idem: 'gate-block-0001', ip: freshIp() });
    expect(ok.statusCode).toBe(201);
    expect(ok.json().order.status).toBe('delivered');
  });

  it('a challenge, then the retry with a solved captcha goes through; a captcha is accepted once; device signals are kept', async () => {
    const price = 7_771;
    await ruleOnAmount('challenge', 'order', price);
    const sku = await createCodeSku(t, { retailPriceFen: price });
    await stockCodes(t, sku, 3);
    const { agent, call } = await agentWithKey(50_000);
    const device = `dev-${uniq()}`;
    const headers = { 'x-device-id': device, 'x-device-signals': JSON.stringify({ platform: 'ios', screen: '390x844', nested: { dropped: true } }) };
    const first = await call('POST', '/open/v1/orders', { body: { sku_id: sku, quantity: 1, payment: 'balance' }, idem: 'gate-chal-0001', headers });
    expect(first.statusCode).toBe(403);
    expect(first.json().error).toMatchObject({ code: 'CHALLENGE_REQUIRED', details: [{ field: 'X-Captcha', message: 'solve the challenge at /risk/captcha and retry with its payload' }] });
    expect(await stateCounts(sku)).toEqual({ available: 3 });

    const payload = await solvedCaptcha();
    const retry = await call('POST', '/open/v1/orders', { body: { sku_id: sku, quantity: 1, payment: 'balance' }, idem: 'gate-chal-0001', headers: { ...headers, 'x-captcha': payload } });
    expect(retry.statusCode).toBe(201);
    expect(retry.json().codes).toHaveLength(1);
    expect(await balanceOf(agent.id)).toBe(50_000 - price);

    const reused = await call('POST', '/open/v1/orders', { body: { sku_id: sku, quantity: 1, payment: 'balance' }, idem: 'gate-chal-0002', headers: { ...headers, 'x-captcha': payload } });
    expect(reused.statusCode).toBe(403);
    expect(reused.json().error.code).toBe('CHALLENGE_REQUIRED');
    expect(reused.json().error.message).toMatch(/reused/);

    await t.services.risk.flush();
    const d = await t.services.risk.device(device);
    expect(d.signals).toEqual({ platform: 'ios', screen: '390x844' });
    // The learned model is loaded (models/risk-model-v1.json): every decision carries its score.
    const decisions = await decisionsOf(`agent:${agent.id}`);
    expect(decisions.length).toBe(3);
    for (const x of decisions) expect(x.score).toBeTypeOf('number');
  });

  it('review: 202 with a held order that holds no stock and no money; a replay is the same order without a new decision; approval delivers and labels legit', async () => {
    const price = 6_661;
    await ruleOnAmount('review', 'order', 2 * price);
    const sku = await createCodeSku(t, { retailPriceFen: price, costFen: 5_000 });
    await stockCodes(t, sku, 3);
    const { agent, call } = await agentWithKey(50_000);
    const res = await call('POST', '/open/v1/orders', { body: { sku_id: sku, quantity: 2, payment: 'balance' }, idem: 'gate-review-001' });
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body.order).toMatchObject({ status: 'held_for_review', quantity: 2, amount_fen: 2 * price, delivered_quantity: 0, paid_at: null });
    expect(body.codes).toEqual([]);
    expect(body.review.decision_id).toMatch(/^rdc_/);
    expect(await stateCounts(sku)).toEqual({ available: 3 });
    expect(await balanceOf(agent.id)).toBe(50_000);
    expect((await t.services.ledger.verify()).ok).toBe(true);

    const before = (await decisionsOf(`agent:${agent.id}`)).length;
    const replay = await call('POST', '/open/v1/orders', { body: { sku_id: sku, quantity: 2, payment: 'balance' }, idem: 'gate-review-001' });
    expect(replay.statusCode).toBe(202);
    expect(replay.json().order.id).toBe(body.order.id);
    expect(replay.json().review.decision_id).toBe(body.review.decision_id);
    expect((await decisionsOf(`agent:${agent.id}`)).length).toBe(before);

    // The queue: risk:review only; the held order is there.
    expect((await admin(support, 'GET', '/admin/risk/reviews')).statusCode).toBe(403);
    const queue = (await admin(riskStaff, 'GET', '/admin/risk/reviews?status=open&subject_type=order&limit=100')).json();
    const review = queue.data.find((r: { subject_id: string }) => r.subject_id === body.order.id);
    expect(review).toMatchObject({ subject_type: 'order', decision_id: body.review.decision_id, status: 'open' });
    const noReason = await admin(riskStaff, 'POST', `/admin/risk/reviews/${review.id}/approve`, {});
    expect(noReason.statusCode).toBe(400);
    expect(noReason.json().error.details[0].field).toBe('reason');

    const approved = await admin(riskStaff, 'POST', `/admin/risk/reviews/${review.id}/approve`, { reason: 'known customer' });
    expect(approved.statusCode).toBe(200);
    expect(approved.json()).toMatchObject({ status: 'approved', reason: 'known customer' });
    const order = await t.services.orders.get(body.order.id);
    expect(order).toMatchObject({ status: 'delivered', delivered_quantity: 2 });
    expect(await balanceOf(agent.id)).toBe(50_000 - 2 * price);
    expect(await stateCounts(sku)).toEqual({ available: 1, delivered: 2 });
    const codes = await call('GET', `/open/v1/orders/${body.order.id}/codes`);
    expect(codes.json().codes).toHaveLength(2);
    expect((await t.services.risk.getDecision(body.review.decision_id)).label).toBe('legit');
    expect((await t.services.ledger.verify()).ok).toBe(true);
    expect((await t.services.audit.list({ limit: 10, action: 'risk.review_approved' })).data.length).toBeGreaterThanOrEqual(1);

    // Decided once.
    expect((await admin(riskStaff, 'POST', `/admin/risk/reviews/${review.id}/approve`, { reason: 'again' })).statusCode).toBe(409);
    expect((await admin(riskStaff, 'POST', `/admin/risk/reviews/${review.id}/reject`, { reason: 'changed my mind' })).statusCode).toBe(409);
  });

  it('review then reject: the order is cancelled, nothing moved, the decision labelled fraud', async () => {
    const price = 6_662;
    await ruleOnAmount('review', 'order', price);
    const sku = await createCodeSku(t, { retailPriceFen: price });
    await stockCodes(t, sku, 2);
    const { agent, call } = await agentWithKey(20_000);
    const held = (await call('POST', '/open/v1/orders', { body: { sku_id: sku, quantity: 1, payment: 'balance' }, idem: 'gate-reject-01' })).json();
    const review = (await t.services.riskReviews.forSubject('order', held.order.id))!;
    const rejected = await admin(riskStaff, 'POST', `/admin/risk/reviews/${review.id}/reject`, { reason: 'stolen account' });
    expect(rejected.statusCode).toBe(200);
    expect((await t.services.orders.get(held.order.id)).status).toBe('cancelled');
    expect(await balanceOf(agent.id)).toBe(20_000);
    expect(await stateCounts(sku)).toEqual({ available: 2 });
    expect((await t.services.risk.getDecision(held.review.decision_id)).label).toBe('fraud');
    // A replay now shows the cancelled order (no new decision, no codes).
    const replay = await call('POST', '/open/v1/orders', { body: { sku_id: sku, quantity: 1, payment: 'balance' }, idem: 'gate-reject-01' });
    expect(replay.statusCode).toBe(200);
    expect(replay.json().order.status).toBe('cancelled');
  });

  it('a held provider order, once approved, waits for payment with a fresh deadline and its stock reserved', async () => {
    const price = 6_663;
    await ruleOnAmount('review', 'order', price);
    const sku = await createCodeSku(t, { retailPriceFen: price });
    await stockCodes(t, sku, 2);
    const { call } = await agentWithKey(0);
    const held = (await call('POST', '/open/v1/orders', { body: { sku_id: sku, quantity: 1, payment: 'sandbox' }, idem: 'gate-extern-01' })).json();
    expect(held.order.status).toBe('held_for_review');
    expect(held.payment).toBeUndefined();
    clock.advance(30 * 60_000);
    const review = (await t.services.riskReviews.forSubject('order', held.order.id))!;
    expect((await admin(riskStaff, 'POST', `/admin/risk/reviews/${review.id}/approve`, { reason: 'fine' })).statusCode).toBe(200);
    const order = await t.services.orders.get(held.order.id);
    expect(order.status).toBe('pending_payment');
    expect(new Date(order.payment_deadline).getTime()).toBeGreaterThan(clock.now().getTime());
    expect(await stateCounts(sku)).toEqual({ available: 1, reserved: 1 });
    // The client's retry with the same key now gets its payment.
    const replay = await call('POST', '/open/v1/orders', { body: { sku_id: sku, quantity: 1, payment: 'sandbox' }, idem: 'gate-extern-01' });
    expect(replay.statusCode).toBe(200);
    expect(replay.json().payment.provider).toBe('sandbox');
  });

  it('a partner order for a customer: the gate sees the account age and earlier orders', async () => {
    const call = await apiKeyFor('partner', `p-${uniq()}`);
    const sku = await createCodeSku(t, { retailPriceFen: 1_234 });
    await stockCodes(t, sku, 4);
    const customer = { provider: 'telegram', external_id: `tg-${uniq()}` };
    for (const idem of ['gate-cust-0001', 'gate-cust-0002']) {
      const res = await call('POST', '/open/v1/orders', { body: { sku_id: sku, quantity: 1, payment: 'sandbox', customer }, idem });
      expect(res.statusCode).toBe(201);
    }
    const customerId = (await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: customer.external_id } })).customerId;
    const decisions = (await decisionsOf(`customer:${customerId}`)).reverse();
    expect(decisions.map((d) => (d.features as { priorOrders: number }).priorOrders)).toEqual([0, 1]);
    for (const d of decisions) expect((d.features as { accountAgeHours: number | null }).accountAgeHours).toBe(0);
  });
});

describe('the gate in front of staff login', () => {
  it('credential stuffing from one IP is challenged (even with a right password there), a block-listed IP is refused, the right password from elsewhere works', async () => {
    const email = `victim-${uniq()}@test.local`;
    await t.services.auth.createStaff({ email, name: 'victim', role: 'support', password: TEST_PASSWORD }, null);
    const stuffer = '192.0.2.77';
    // Like the admin panel, every login sends a device id (one without is challenged: rule login_without_device).
    const login = (e: string, password: string, ip: string, headers: Record<string, string> = {}) => t.inject({ method: 'POST', url: '/admin/auth/login', payload: { email: e, password }, remoteAddress: ip, headers: { 'x-device-id': 'panel-gate-test', ...headers } });
    const codes: number[] = [];
    // The stuffer forges a fresh device id per guess: only its IP repeats.
    for (let i = 0; i < 22; i++) codes.push((await login(`user${i}-${uniq()}@test.local`, 'guess-123456', stuffer, { 'x-device-id': `forged-${i}-${uniq()}` })).statusCode);
    // Wrong pairs are answered 401 until the IP's velocity (20 in 10 minutes) or the platform-wide failure rule challenges.
    expect(codes.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(codes.every((c) => c === 401 || c === 403)).toBe(true);
    const last = await login(`user-x-${uniq()}@test.local`, 'guess-123456', stuffer, { 'x-device-id': `forged-x-${uniq()}` });
    expect(last.statusCode).toBe(403);
    expect(last.json().error).toMatchObject({ code: 'CHALLENGE_REQUIRED', details: [{ field: 'X-Captcha' }] });
    // The gate answers before the password is looked at: the right password from there is challenged too.
    expect((await login(email, TEST_PASSWORD, stuffer)).json().error.code).toBe('CHALLENGE_REQUIRED');
    // With a solved captcha it goes through.
    const solved = await login(email, TEST_PASSWORD, stuffer, { 'x-captcha': await solvedCaptcha() });
    expect(solved.statusCode).toBe(200);
    // The right password from another IP works: at once, or (while the platform-wide "login under attack" rule sees
    // the stuffing) after a captcha, never refused.
    const elsewhere = await login(email, TEST_PASSWORD, '192.0.2.78');
    if (elsewhere.statusCode === 403) {
      expect(elsewhere.json().error.code).toBe('CHALLENGE_REQUIRED');
      expect((await login(email, TEST_PASSWORD, '192.0.2.78', { 'x-captcha': await solvedCaptcha() })).statusCode).toBe(200);
    } else expect(elsewhere.statusCode).toBe(200);
    // A failed password counts against the account in the gate's failure counters.
    expect((await login(email, 'wrong-password', '192.0.2.79', { 'x-captcha': await solvedCaptcha() })).statusCode).toBe(401);
    const staff = (await t.services.auth.listStaff({ limit: 100 })).data.find((s) => s.email === email)!;
    const d = (await decisionsOf(`staff:${staff.id}`))[0]!;
    expect(d.action).toBe('login');
    // A block-listed IP is refused before anything else.
    await admin(owner, 'POST', '/admin/risk/lists', { type: 'ip', value: '192.0.2.80', reason: 'known bad' });
    const blocked = await login(email, TEST_PASSWORD, '192.0.2.80');
    expect(blocked.statusCode).toBe(403);
    expect(blocked.json().error.code).toBe('RISK_BLOCKED');
    expect(blocked.body).not.toMatch(/known bad/);
  });

  it('a login without a device id (a script, not the panel) must solve a captcha first', async () => {
    const email = `no-device-${uniq()}@test.local`;
    await t.services.auth.createStaff({ email, name: 'no device', role: 'support', password: TEST_PASSWORD }, null);
    const bare = await t.inject({ method: 'POST', url: '/admin/auth/login', payload: { email, password: TEST_PASSWORD }, remoteAddress: '192.0.2.95' });
    expect(bare.statusCode).toBe(403);
    expect(bare.json().error.code).toBe('CHALLENGE_REQUIRED');
    const solved = await t.inject({ method: 'POST', url: '/admin/auth/login', payload: { email, password: TEST_PASSWORD }, remoteAddress: '192.0.2.95', headers: { 'x-captcha': await solvedCaptcha() } });
    expect(solved.statusCode).toBe(200);
  });

  it('an unknown e-mail is assessed under a hash, never told apart from a known one', async () => {
    // (A solved captcha comes along: the stuffing above may have put logins under a platform-wide challenge.)
    const res = await t.inject({ method: 'POST', url: '/admin/auth/login', payload: { email: `nobody-${uniq()}@test.local`, password: 'x' }, remoteAddress: '192.0.2.90', headers: { 'x-device-id': 'panel-gate-test', 'x-captcha': await solvedCaptcha() } });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.message).toBe('e-mail or password is wrong');
    await t.services.risk.flush();
    const d = (await t.services.risk.listDecisions({ limit: 5, action: 'login' })).data[0]!;
    expect(d.subject).toMatch(/^staff:login_[0-9a-f]{32}$/);
  });
});

describe('the gate in front of agent join', () => {
  it('a block-listed IP: JSON 403 RISK_BLOCKED, the form gets a page with the message; nothing applied', async () => {
    const upline = await t.services.agents.create({ name: 'Upline', role: 'group_leader' });
    const ip = freshIp();
    await admin(owner, 'POST', '/admin/risk/lists', { type: 'ip', value: ip, reason: 'farm' });
    const json = await t.inject({ method: 'POST', url: '/join', remoteAddress: ip, payload: { referral_code: upline.referral_code, name: 'Farm', phone: '13800001234' } });
    expect(json.statusCode).toBe(403);
    expect(json.json().error.code).toBe('RISK_BLOCKED');
    const form = await t.inject({ method: 'POST', url: '/join', remoteAddress: ip, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ referral_code: upline.referral_code, name: 'Farm', phone: '13800001234' }).toString() });
    expect(form.statusCode).toBe(403);
    expect(form.headers['content-type']).toMatch(/text\/html/);
    expect(form.body).toMatch(/rdc_[0-9A-Z]{26}/);
    expect(form.body).not.toContain('13800001234');
    expect((await t.services.agentJoin.listForStaff({ limit: 10, uplineId: upline.id })).data).toEqual([]);
    const ok = await t.inject({ method: 'POST', url: '/join', remoteAddress: freshIp(), payload: { referral_code: upline.referral_code, name: 'Honest', phone: '13800001235' } });
    expect(ok.statusCode).toBe(201);
  });
});

describe('the gate in front of withdrawals', () => {
  it('review holds the withdrawal: finance approval is 409 RISK_REVIEW_PENDING until risk releases it', async () => {
    const amount = 12_341;
    await ruleOnAmount('review', 'withdrawal', amount);
    const { agent, call } = await agentWithKey(0, 50_000);
    const res = await call('POST', '/open/v1/withdrawals', { body: { amount_fen: amount, method: 'bank_transfer', payout_account: '6222 0212 3456 7890 123' }, idem: 'gate-wdr-0001' });
    expect(res.statusCode).toBe(201);
    const w = res.json();
    expect(w).toMatchObject({ status: 'requested', risk_hold: true });
    const refused = await admin(finance, 'POST', `/admin/withdrawals/${w.id}/approve`);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('RISK_REVIEW_PENDING');
    const review = (await t.services.riskReviews.forSubject('withdrawal', w.id))!;
    expect((await admin(riskStaff, 'POST', `/admin/risk/reviews/${review.id}/approve`, { reason: 'checked with the agent' })).statusCode).toBe(200);
    const approved = await admin(finance, 'POST', `/admin/withdrawals/${w.id}/approve`);
    expect(approved.statusCode).toBe(200);
    expect(approved.json()).toMatchObject({ status: 'approved', risk_hold: false });
    expect((await admin(cashier, 'POST', `/admin/withdrawals/${w.id}/pay`, { reference: 'BANK-1' })).statusCode).toBe(200);
    expect((await t.services.risk.getDecision(review.decision_id)).label).toBe('legit');
    void agent;
  });

  it('risk rejects a held withdrawal: the money goes back; a block-listed IP is refused with nothing written', async () => {
    const amount = 12_342;
    await ruleOnAmount('review', 'withdrawal', amount);
    const { agent, call } = await agentWithKey(0, 50_000);
    const available = () => t.services.ledger.balance(accounts.commissionAvailable(agent.id).id);
    const w = (await call('POST', '/open/v1/withdrawals', { body: { amount_fen: amount, method: 'bank_transfer', payout_account: '6222 0212 3456 7890 123' }, idem: 'gate-wdr-0002' })).json();
    expect(await available()).toBe(50_000 - amount);
    const review = (await t.services.riskReviews.forSubject('withdrawal', w.id))!;
    expect((await admin(riskStaff, 'POST', `/admin/risk/reviews/${review.id}/reject`, { reason: 'mule account' })).statusCode).toBe(200);
    expect((await t.services.withdrawals.get(w.id)).status).toBe('rejected');
    expect(await available()).toBe(50_000);
    expect((await t.services.risk.getDecision(review.decision_id)).label).toBe('fraud');

    const ip = freshIp();
    await admin(owner, 'POST', '/admin/risk/lists', { type: 'ip', value: ip, reason: 'mule' });
    const blocked = await call('POST', '/open/v1/withdrawals', { body: { amount_fen: 20_000, method: 'bank_transfer', payout_account: '6222 0212 3456 7890 123' }, idem: 'gate-wdr-0003', ip });
    expect(blocked.statusCode).toBe(403);
    expect(blocked.json().error.code).toBe('RISK_BLOCKED');
    expect(await available()).toBe(50_000);
    expect((await t.services.withdrawals.list({ limit: 10, agentId: agent.id })).data).toHaveLength(1);
  });
});

describe('X-Device-Signals parsing', () => {
  it('keeps flat scalars, drops bad JSON, arrays and oversized headers', () => {
    expect(deviceSignalsOf('{"os":"android","dpr":3,"touch":true,"deep":{"x":1}}')).toEqual({ os: 'android', dpr: 3, touch: true });
    expect(deviceSignalsOf('not json')).toBeUndefined();
    expect(deviceSignalsOf('[1,2]')).toBeUndefined();
    expect(deviceSignalsOf(JSON.stringify({ big: 'x'.repeat(3000) }))).toBeUndefined();
    expect(deviceSignalsOf(undefined)).toBeUndefined();
  });
});
