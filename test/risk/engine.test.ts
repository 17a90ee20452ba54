import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { solveChallenge } from 'altcha-lib/v1';
import { bootTestApp, bearer, TEST_PASSWORD, type TestApp } from '../helpers/boot.js';
import { ManualClock, MINUTE } from '../../src/lib/clock.js';
import { ruleTemplates } from '../../src/modules/risk/templates.js';
import { createRiskService, type AssessInput } from '../../src/modules/risk/service.js';

/**
 * The risk engine through its service (the gate) and its admin routes, on a
 * real database; with REDIS_URL the velocity counters are the Redis Lua
 * script. Each case uses its own IPs, devices and accounts so the built-in
 * rules of other cases do not interfere.
 */
const clock = new ManualClock(new Date());
let t: TestApp;
let risk: string;
let ops: string;
let support: string;
beforeAll(async () => {
  t = await bootTestApp({ clock, env: { RISK_CAPTCHA_MAX_NUMBER: '2000' } });
  risk = (await t.loginAs('risk')).token;
  ops = (await t.loginAs('operations')).token;
  support = (await t.loginAs('support')).token;
});
afterAll(() => t.close());

const assess = (i: AssessInput) => t.services.risk.assess(i);
let n = 0;
const uniq = () => `${++n}`;
const ipOf = (k: number) => `10.${Math.floor(k / 250) % 250}.${k % 250}.${(k * 7) % 250}`;
let ipSeq = 100;
const freshIp = () => ipOf(ipSeq++ * 257);

async function createRule(body: object, token = risk) {
  return t.inject({ method: 'POST', url: '/admin/risk/rules', headers: bearer(token), payload: body });
}

describe('rules', () => {
  it('seeds the built-in templates once, listed in evaluation order', async () => {
    expect(t.services.risk.counters).toBe(process.env.REDIS_URL ? 'redis' : 'memory');
    expect(await t.services.risk.seedTemplates()).toBe(0);
    const res = await t.inject({ method: 'GET', url: '/admin/risk/rules', headers: bearer(risk) });
    expect(res.statusCode).toBe(200);
    const rules = res.json().data as { template: string | null; action: string; mode: string }[];
    expect(rules.filter((r) => r.template).length).toBe(ruleTemplates.length);
    const rank = { allow: 0, block: 1, review: 2, challenge: 3 } as Record<string, number>;
    const ranks = rules.map((r) => rank[r.action]!);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    expect(rules.find((r) => r.template === 'no_device_register')!.mode).toBe('shadow');
  });

  it('evaluates allow, then block, review, challenge; first match wins; shadow rules are reported only', async () => {
    const rules: Record<string, string> = {};
    // Created out of evaluation order on purpose.
    for (const [key, action, condition, mode] of [
      ['challenge', 'challenge', { field: 'amountFen', op: 'gt', value: 700_000 }, 'enforce'],
      ['review', 'review', { field: 'amountFen', op: 'gt', value: 800_000 }, 'enforce'],
      ['block', 'block', { field: 'amountFen', op: 'gt', value: 900_000 }, 'enforce'],
      ['allow', 'allow', { field: 'amountFen', op: 'eq', value: 999_999 }, 'enforce'],
      ['shadow', 'block', { field: 'amountFen', op: 'gt', value: 600_000 }, 'shadow'],
    ] as const) {
      const res = await createRule({ name: `test ${key}`, action, mode, condition, applies_to: ['withdrawal'] });
      expect(res.statusCode).toBe(201);
      rules[key] = res.json().id;
    }
    const w = (amountFen: number) => assess({ action: 'withdrawal', ip: freshIp(), account: { type: 'agent', id: `agt_w${uniq()}` }, amountFen });
    const cases: [number, string, string][] = [
      [750_000, 'challenge', rules.challenge!],
      [850_000, 'review', rules.review!],
      [950_000, 'block', rules.block!],
      [999_999, 'allow', rules.allow!],
    ];
    for (const [amount, action, ruleId] of cases) {
      const d = await w(amount);
      expect(d.action).toBe(action);
      expect(d.reasons).toEqual([{ rule_id: ruleId, name: expect.any(String), version: 1, action }]);
      expect(d.shadow_matches.map((m) => m.rule_id)).toEqual([rules.shadow]);
    }
    const quiet = await w(650_000);
    expect(quiet).toMatchObject({ action: 'allow', reasons: [] });
    expect(quiet.shadow_matches.map((m) => m.rule_id)).toEqual([rules.shadow]);
    // Another action is not looked at by these rules.
    expect((await assess({ action: 'order', ip: freshIp(), amountFen: 950_000 })).reasons.map((r) => r.rule_id)).not.toContain(rules.block);

    // Versioning: each save is a new version, the old one kept; the gate uses the new one at once.
    const patched = await t.inject({ method: 'PATCH', url: `/admin/risk/rules/${rules.block}`, headers: bearer(risk), payload: { condition: { field: 'amountFen', op: 'gt', value: 990_000 } } });
    expect(patched.statusCode).toBe(200);
    expect(patched.json().version).toBe(2);
    const d = await w(950_000);
    expect(d.action).toBe('review');
    const blocked = await w(995_000);
    expect(blocked.reasons[0]).toMatchObject({ rule_id: rules.block, version: 2 });
    const versions = (await t.inject({ method: 'GET', url: `/admin/risk/rules/${rules.block}/versions`, headers: bearer(risk) })).json().data as { version: number; condition: { value: number } }[];
    expect(versions.map((v) => [v.version, v.condition.value])).toEqual([
      [2, 990_000],
      [1, 900_000],
    ]);
    const logged = (await t.inject({ method: 'GET', url: `/admin/risk/decisions/${blocked.decision_id}`, headers: bearer(risk) })).json();
    expect(logged).toMatchObject({ decision: 'block', rule_versions: { [rules.block!]: 2, [rules.shadow!]: 1 }, features: { amountFen: 995_000, action: 'withdrawal' } });

    // Disabling is a version too, and the rule stops deciding.
    const disabled = await t.inject({ method: 'POST', url: `/admin/risk/rules/${rules.block}/disable`, headers: bearer(risk) });
    expect(disabled.json()).toMatchObject({ enabled: false, version: 3 });
    expect((await w(995_000)).action).toBe('review');
    for (const id of Object.values(rules)) await t.services.risk.disableRule(id, { id: 'test' });

    const audit = await t.services.audit.list({ limit: 100, action: 'risk.rule_created' });
    expect(audit.data.length).toBeGreaterThanOrEqual(5);
    expect((await t.services.audit.list({ limit: 10, action: 'risk.rule_disabled' })).data.length).toBeGreaterThanOrEqual(1);
  });

  it('refuses a bad condition with the path of the bad node, and callers without the permission', async () => {
    const bad = await createRule({ name: 'bad', action: 'block', condition: { all: [{ field: 'velocity.ip_10m', op: 'gt', value: 20 }, { any: [{ field: 'velocity.nope', op: 'gt', value: 1 }] }] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details[0].field).toBe('condition.all[1].any[0].field');
    const badOp = await createRule({ name: 'bad op', action: 'block', condition: { not: { field: 'amountFen', op: 'between', value: 1 } } });
    expect(badOp.statusCode).toBe(400);
    expect(badOp.json().error.details[0].field).toBe('condition.not.op');
    const badList = await createRule({ name: 'bad list', action: 'block', condition: { list: 'email' } });
    expect(badList.json().error.details[0].field).toBe('condition.list');
    const badAction = await createRule({ name: 'bad action', action: 'deny', condition: { all: [] } });
    expect(badAction.statusCode).toBe(400);

    const ok = (await createRule({ name: 'to patch', action: 'review', condition: { all: [] }, applies_to: ['withdrawal'], enabled: false })).json();
    const badPatch = await t.inject({ method: 'PATCH', url: `/admin/risk/rules/${ok.id}`, headers: bearer(risk), payload: { condition: { field: 'amountFen', op: 'in', value: 5 } } });
    expect(badPatch.statusCode).toBe(400);
    expect(badPatch.json().error.details[0].field).toBe('condition.value');
    expect((await t.inject({ method: 'GET', url: `/admin/risk/rules/${ok.id}`, headers: bearer(risk) })).json().version).toBe(1);

    expect((await createRule({ name: 'ops', action: 'block', condition: { all: [] } }, ops)).statusCode).toBe(403);
    expect((await t.inject({ method: 'GET', url: '/admin/risk/rules', headers: bearer(ops) })).statusCode).toBe(200);
    expect((await t.inject({ method: 'GET', url: '/admin/risk/rules', headers: bearer(support) })).statusCode).toBe(403);
    expect((await t.inject({ method: 'GET', url: '/admin/risk/rules' })).statusCode).toBe(401);
  });
});

describe('block lists', () => {
  it('blocks an IP inside a listed CIDR, an expiring IP until it expires, a device, and stops when removed', async () => {
    const add = (payload: object) => t.inject({ method: 'POST', url: '/admin/risk/lists', headers: bearer(risk), payload });
    const cidr = await add({ type: 'cidr', value: '198.18.0.0/15', reason: 'test range' });
    expect(cidr.statusCode).toBe(201);
    const d = await assess({ action: 'order', ip: '198.19.3.4', amountFen: 100 });
    expect(d.action).toBe('block');
    expect(d.reasons[0]!.name).toMatch(/Block listed/);
    expect((await assess({ action: 'login', ip: '::ffff:198.19.200.1' })).action).toBe('block');
    expect((await assess({ action: 'order', ip: '198.20.0.1', amountFen: 100 })).action).toBe('allow');

    const ip = await add({ type: 'ip', value: '203.0.113.77', expires_at: new Date(clock.now().getTime() + MINUTE).toISOString() });
    expect(ip.statusCode).toBe(201);
    expect((await assess({ action: 'order', ip: '203.0.113.77' })).action).toBe('block');
    clock.advance(2 * MINUTE);
    expect((await assess({ action: 'order', ip: '203.0.113.77' })).action).toBe('allow');

    const dev = (await add({ type: 'device', value: 'dev-banned' })).json();
    expect((await assess({ action: 'register', ip: freshIp(), deviceId: 'dev-banned' })).action).toBe('block');
    expect((await t.inject({ method: 'DELETE', url: `/admin/risk/lists/${dev.id}`, headers: bearer(risk) })).statusCode).toBe(204);
    expect((await assess({ action: 'register', ip: freshIp(), deviceId: 'dev-banned' })).action).toBe('allow');

    const acct = (await add({ type: 'account', value: 'cus_banned' })).json();
    expect((await assess({ action: 'order', ip: freshIp(), account: { type: 'customer', id: 'cus_banned' } })).action).toBe('block');
    const patched = await t.inject({ method: 'PATCH', url: `/admin/risk/lists/${acct.id}`, headers: bearer(risk), payload: { expires_at: new Date(clock.now().getTime() + 1000).toISOString(), reason: 'cooled down' } });
    expect(patched.json()).toMatchObject({ reason: 'cooled down' });
    clock.advance(2000);
    expect((await assess({ action: 'order', ip: freshIp(), account: { type: 'customer', id: 'cus_banned' } })).action).toBe('allow');

    const badCidr = await add({ type: 'cidr', value: '300.1.0.0/99' });
    expect(badCidr.statusCode).toBe(400);
    expect(badCidr.json().error.details[0].field).toBe('value');
    const badIp = await add({ type: 'ip', value: 'not-an-ip' });
    expect(badIp.json().error.details[0].field).toBe('value');
    const past = await add({ type: 'device', value: 'x', expires_at: new Date(clock.now().getTime() - 1000).toISOString() });
    expect(past.json().error.details[0].field).toBe('expires_at');
    expect((await add({ type: 'device', value: 'y' }).then(() => t.inject({ method: 'POST', url: '/admin/risk/lists', headers: bearer(ops), payload: { type: 'device', value: 'z' } }))).statusCode).toBe(403);

    const page = (await t.inject({ method: 'GET', url: '/admin/risk/lists?type=cidr', headers: bearer(risk) })).json();
    expect(page.data.map((e: { value: string }) => e.value)).toContain('198.18.0.0/15');
    expect((await t.services.audit.list({ limit: 20, action: 'risk.list_entry_added' })).data.length).toBeGreaterThanOrEqual(4);
    expect((await t.services.audit.list({ limit: 20, action: 'risk.list_entry_removed' })).data.length).toBe(1);
  });

  it('reaches another instance within about a second (version in the key-value store)', async () => {
    const other = createRiskService(t.platform, { audit: t.services.audit }, { captchaHmacKey: 'k', captchaTtlSeconds: 120, captchaMaxNumber: 1000 });
    try {
      const ip = '192.0.2.201';
      expect((await other.assess({ action: 'order', ip })).action).toBe('allow');
      await t.inject({ method: 'POST', url: '/admin/risk/lists', headers: bearer(risk), payload: { type: 'ip', value: ip } });
      expect((await t.services.risk.assess({ action: 'order', ip })).action).toBe('block');
      await new Promise((r) => setTimeout(r, 1100));
      expect((await other.assess({ action: 'order', ip })).action).toBe('block');
    } finally {
      await other.close();
    }
  });
});

describe('velocity', () => {
  it('challenges then blocks a burst from one IP, and forgets it as the clock moves', async () => {
    const ip = freshIp();
    const actions: string[] = [];
    for (let i = 0; i < 31; i++) actions.push((await assess({ action: 'order', ip, amountFen: 100, skuId: `sku_v${uniq()}` })).action);
    expect(actions.slice(0, 20).every((a) => a === 'allow')).toBe(true);
    expect(actions.slice(20, 30).every((a) => a === 'challenge')).toBe(true);
    expect(actions[30]).toBe('block');
    clock.advance(MINUTE);
    const next = await assess({ action: 'order', ip, amountFen: 100 });
    expect(next.action).toBe('challenge');
    clock.advance(10 * MINUTE);
    expect((await assess({ action: 'order', ip, amountFen: 100 })).action).toBe('allow');
    // Logins from the same IP are counted apart from orders.
    expect((await assess({ action: 'login', ip, deviceId: 'panel-v' })).action).toBe('allow');

    const log = await t.inject({ method: 'GET', url: `/admin/risk/decisions/${next.decision_id}`, headers: bearer(risk) });
    expect(log.json().features.velocity).toMatchObject({ ip_1m: 1, ip_10m: 32, ip_1h: 32 });
  });

  it('locks out logins after 5 failures of an account until they age out of the hour', async () => {
    const account = { type: 'customer' as const, id: `cus_l${uniq()}` };
    const ip = freshIp();
    for (let i = 0; i < 4; i++) await t.services.risk.recordFailure({ action: 'login', ip, account });
    expect((await assess({ action: 'login', ip, account, deviceId: 'panel-l' })).action).toBe('allow');
    await t.services.risk.recordFailure({ action: 'login', ip, account });
    const locked = await assess({ action: 'login', ip: freshIp(), account, deviceId: 'panel-l' });
    expect(locked.action).toBe('block');
    expect(locked.reasons[0]!.name).toMatch(/Lock out logins/);
    clock.advance(61 * MINUTE);
    expect((await assess({ action: 'login', ip, account, deviceId: 'panel-l' })).action).toBe('allow');
  });

  it('counts accounts per device and shows the device with its accounts, phone hashes and IPs', async () => {
    const dev = `dev-shared-${uniq()}`;
    const ip = freshIp();
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await assess({ action: 'order', ip, deviceId: dev, deviceSignals: { platform: 'ios', lang: 'zh-CN' }, phoneHash: `ph${i}`, account: { type: 'customer', id: `cus_d${n}_${i}`, createdAt: new Date(clock.now().getTime() - 100 * 3_600_000) }, priorOrders: 2, amountFen: 100 }));
    expect(results.map((r) => r.action)).toEqual(['allow', 'allow', 'allow', 'challenge']);
    expect(results[3]!.reasons[0]!.name).toBe('Many accounts per device');
    const second = await assess({ action: 'order', ip, deviceId: `${dev}-b`, account: { type: 'customer', id: `cus_d${n}_0` }, amountFen: 100 });
    const logged = (await t.inject({ method: 'GET', url: `/admin/risk/decisions/${second.decision_id}`, headers: bearer(risk) })).json();
    expect(logged.features.links).toEqual({ accounts_per_device: 1, devices_per_account: 2, accounts_per_ip: 4 });

    const view = await t.inject({ method: 'GET', url: `/admin/risk/devices/${dev}`, headers: bearer(risk) });
    expect(view.statusCode).toBe(200);
    const v = view.json();
    expect(v.accounts).toHaveLength(4);
    expect(v.phone_hashes.map((p: { subject_id: string }) => p.subject_id).sort()).toEqual(['ph0', 'ph1', 'ph2', 'ph3']);
    expect(v.ips).toEqual([expect.objectContaining({ subject_id: ip, hits: 4 })]);
    expect(v.signals).toEqual({ platform: 'ios', lang: 'zh-CN' });
    const devices = (await t.inject({ method: 'GET', url: `/admin/risk/accounts/customer/cus_d${n}_0/devices`, headers: bearer(risk) })).json();
    expect(devices.devices.map((d: { device_id: string }) => d.device_id).sort()).toEqual([dev, `${dev}-b`].sort());
    expect((await t.inject({ method: 'GET', url: '/admin/risk/devices/nope', headers: bearer(risk) })).statusCode).toBe(404);
  });
});

describe('captcha', () => {
  async function solved(): Promise<string> {
    const res = await t.inject({ method: 'GET', url: '/risk/captcha' });
    expect(res.statusCode).toBe(200);
    const c = res.json() as { algorithm: 'SHA-256'; challenge: string; salt: string; signature: string; maxnumber: number };
    const solution = await solveChallenge(c.challenge, c.salt, c.algorithm, c.maxnumber).promise;
    expect(solution).not.toBeNull();
    return Buffer.from(JSON.stringify({ algorithm: c.algorithm, challenge: c.challenge, number: solution!.number, salt: c.salt, signature: c.signature })).toString('base64');
  }
  /** A new account with a big coupon: the new_account_large_coupon template challenges it. */
  const challenged = (captcha?: string) => assess({ action: 'coupon_claim', ip: freshIp(), account: { type: 'customer', id: `cus_c${uniq()}`, createdAt: clock.now() }, couponValueFen: 10_000, captcha });

  it('turns a challenge into allow once per solved challenge, never a block, and not after expiry', async () => {
    expect((await challenged()).action).toBe('challenge');
    const payload = await solved();
    const first = await challenged(payload);
    expect(first).toMatchObject({ action: 'allow', captcha: 'passed' });
    expect(first.reasons[0]!.action).toBe('challenge');
    expect(await challenged(payload)).toMatchObject({ action: 'challenge', captcha: 'reused' });

    const tampered = JSON.parse(Buffer.from(await solved(), 'base64').toString()) as { number: number };
    tampered.number += 1;
    expect(await challenged(Buffer.from(JSON.stringify(tampered)).toString('base64'))).toMatchObject({ action: 'challenge', captcha: 'invalid' });
    expect(await challenged('not base64 json')).toMatchObject({ action: 'challenge', captcha: 'invalid' });

    const late = await solved();
    clock.advance(3 * MINUTE);
    expect(await challenged(late)).toMatchObject({ action: 'challenge', captcha: 'expired' });

    // A block is not a challenge: a captcha does not lift it.
    await t.inject({ method: 'POST', url: '/admin/risk/lists', headers: bearer(risk), payload: { type: 'device', value: 'dev-captcha-banned' } });
    const blocked = await assess({ action: 'order', ip: freshIp(), deviceId: 'dev-captcha-banned', captcha: await solved() });
    expect(blocked.action).toBe('block');
    expect(blocked.captcha).toBeUndefined();
  });

  it('under attack (10+ failed logins platform-wide in 10 minutes) challenges every login until the failures age out', async () => {
    clock.advance(10 * MINUTE);
    const email = `under-attack-${uniq()}@test.local`;
    await t.services.auth.createStaff({ email, name: 'Ursula', role: 'readonly', password: TEST_PASSWORD }, null);
    const login = (password: string, ip: string, headers: Record<string, string> = {}) => t.inject({ method: 'POST', url: '/admin/auth/login', payload: { email, password }, remoteAddress: ip, headers });
    const stuff = (i: number) => t.inject({ method: 'POST', url: '/admin/auth/login', payload: { email: `leaked-${uniq()}@test.local`, password: 'password123' }, remoteAddress: freshIp(), headers: { 'x-device-id': `fake-${i}-${uniq()}` } });
    // Every guess from its own IP, e-mail and forged device id: no per-IP, per-device or per-account count moves.
    for (let i = 0; i < 9; i++) expect((await stuff(i)).statusCode).toBe(401);
    expect((await login(TEST_PASSWORD, freshIp(), { 'x-device-id': 'panel-1' })).statusCode).toBe(200);
    expect((await stuff(9)).statusCode).toBe(401);

    const refused = await login(TEST_PASSWORD, freshIp(), { 'x-device-id': 'panel-1' });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('CHALLENGE_REQUIRED');
    const guess = await stuff(10);
    expect(guess.statusCode).toBe(403);
    expect(guess.json().error.code).toBe('CHALLENGE_REQUIRED');
    expect((await login(TEST_PASSWORD, freshIp(), { 'x-device-id': 'panel-1', 'x-captcha': 'not base64 json' })).statusCode).toBe(403);
    // A person solves the captcha and gets in; the refused attempts checked no password, so they add no failures.
    expect((await login(TEST_PASSWORD, freshIp(), { 'x-device-id': 'panel-1', 'x-captcha': await solved() })).statusCode).toBe(200);

    await t.services.risk.flush();
    const last = (await t.services.risk.listDecisions({ limit: 1, action: 'login' })).data[0]!;
    expect(last.features).toMatchObject({ velocity: { failures_global_10m: 10 } });
    expect((last.reasons as { name?: string }[]).map((r) => r.name)).toContain('Login under attack: platform-wide failed logins');

    clock.advance(10 * MINUTE);
    expect((await login(TEST_PASSWORD, freshIp(), { 'x-device-id': 'panel-1' })).statusCode).toBe(200);
  });
});

describe('decision log', () => {
  it('lists decisions by decision and label, and labels them (audited)', async () => {
    await t.services.risk.flush();
    const blocked = await t.inject({ method: 'GET', url: '/admin/risk/decisions?decision=block&limit=5', headers: bearer(risk) });
    expect(blocked.statusCode).toBe(200);
    const page = blocked.json();
    expect(page.data.length).toBe(5);
    expect(page.has_more).toBe(true);
    expect(page.data.every((d: { decision: string }) => d.decision === 'block')).toBe(true);
    const next = (await t.inject({ method: 'GET', url: `/admin/risk/decisions?decision=block&limit=5&cursor=${page.next_cursor}`, headers: bearer(risk) })).json();
    expect(next.data[0].id < page.data[4].id).toBe(true);

    const id = page.data[0].id as string;
    const labelled = await t.inject({ method: 'POST', url: `/admin/risk/decisions/${id}/label`, headers: bearer(risk), payload: { label: 'fraud' } });
    expect(labelled.statusCode).toBe(200);
    expect(labelled.json()).toMatchObject({ label: 'fraud', labelled_by: expect.any(String) });
    const fraud = (await t.inject({ method: 'GET', url: '/admin/risk/decisions?label=fraud', headers: bearer(risk) })).json();
    expect(fraud.data.map((d: { id: string }) => d.id)).toEqual([id]);
    const unlabelled = (await t.inject({ method: 'GET', url: '/admin/risk/decisions?label=none&limit=100', headers: bearer(risk) })).json();
    expect(unlabelled.data.map((d: { id: string }) => d.id)).not.toContain(id);
    expect((await t.services.audit.list({ limit: 5, action: 'risk.decision_labelled' })).data[0]).toMatchObject({ target_id: id, details: { label: 'fraud', previous: null } });

    expect((await t.inject({ method: 'POST', url: `/admin/risk/decisions/${id}/label`, headers: bearer(risk), payload: { label: 'maybe' } })).statusCode).toBe(400);
    expect((await t.inject({ method: 'POST', url: '/admin/risk/decisions/rdc_01ARZ3NDEKTSV4RRFFQ69G5FAV/label', headers: bearer(risk), payload: { label: 'legit' } })).statusCode).toBe(404);
    expect((await t.inject({ method: 'POST', url: `/admin/risk/decisions/${id}/label`, headers: bearer(ops), payload: { label: 'legit' } })).statusCode).toBe(403);
  });
});
