import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, bootTestApp, TEST_PASSWORD } from '../helpers/boot.js';
import { assertSafeResponse, buildWorld, businessSnapshot, mp, signedCall, uniq, type Key, type World } from './world.js';

/**
 * OWASP API Security Top 10 (2023): API4 resource consumption, API6 business
 * flows, API7 SSRF, API8 misconfiguration, API9 inventory. (API1-3 and API5 are
 * in owasp-access.test.ts, API10 in unsafe-consumption.test.ts, API2 in replay.test.ts.)
 */
let w: World;
let partner: Key;
beforeAll(async () => {
  // Production's SSRF stance: no private networks for webhooks or suppliers, no allow-list.
  w = await buildWorld({ env: { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false', SUPPLIER_ALLOW_PRIVATE_NETWORKS: 'false', CORS_ORIGINS: 'https://shop.example.com' } });
  const k = await w.t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(w.owner.token), payload: { owner_type: 'partner', owner_id: 'partner-1', name: 'shop' } });
  expect(k.statusCode).toBe(201);
  partner = k.json();
});
afterAll(() => w?.close());

const admin = (method: string, url: string, payload?: object) => w.t.inject({ method: method as 'POST', url, payload, headers: { ...bearer(w.owner.token), 'idempotency-key': `k-${uniq()}` } });

describe('API4 unrestricted resource consumption', () => {
  it('every list in the OpenAPI document caps its page size: limit above the cap is 400, never a bigger page', async () => {
    const doc = w.t.app.swagger() as { paths: Record<string, Record<string, { parameters?: { in: string; name: string; schema: { maximum?: number } }[] }>> };
    let lists = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      const limit = item.get?.parameters?.find((p) => p.in === 'query' && p.name === 'limit');
      if (!limit) continue;
      lists++;
      expect(limit.schema.maximum, `${path} declares no maximum page size`).toBeLessThanOrEqual(1000);
      const url = `${path.replace(/\{(\w+)\}/g, 'x')}?limit=${limit.schema.maximum! + 1}`;
      const headers = path.startsWith('/admin/') ? bearer(w.owner.token) : path.startsWith('/mp/') ? bearer(w.custA.token) : {};
      const res = path.startsWith('/open/') ? await signedCall(w.t, w.agentA.key, 'GET', url) : await w.t.inject({ method: 'GET', url, headers });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(400);
      const huge = path.startsWith('/open/') ? await signedCall(w.t, w.agentA.key, 'GET', `${url}000000`) : await w.t.inject({ method: 'GET', url: `${url}000000`, headers });
      expect(huge.statusCode, url).toBe(400);
    }
    expect(lists).toBeGreaterThan(60);
  });

  it('a body over the limit is refused with 413 before it is parsed; a deeply nested one with 400', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 10) });
    const res = await w.t.inject({ method: 'POST', url: '/admin/products', headers: { ...bearer(w.owner.token), 'content-type': 'application/json' }, payload: big });
    expect([res.statusCode, res.json().error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const anon = await w.t.inject({ method: 'POST', url: '/mp/v1/login', headers: { 'content-type': 'application/json' }, payload: big });
    expect(anon.statusCode).toBe(413);
    const deep = '{"code":'.repeat(5_000) + '1' + '}'.repeat(5_000);
    const nested = await w.t.inject({ method: 'POST', url: '/mp/v1/login', headers: { 'content-type': 'application/json' }, payload: deep });
    assertSafeResponse(nested, w.secrets, 'deep nesting');
    expect(nested.statusCode).toBe(400);
  });

  it('failed staff logins lock the account out with 429 and Retry-After, even for the right password', async () => {
    const email = `lock-${uniq()}@test.local`;
    await w.t.services.auth.createStaff({ email, name: 'x', role: 'support', password: TEST_PASSWORD }, null);
    const login = (password: string, i: number) => w.t.inject({ method: 'POST', url: '/admin/auth/login', payload: { email, password }, remoteAddress: `192.0.2.${i}`, headers: { 'x-device-id': `dev-lock-${i}` } });
    for (let i = 0; i < 5; i++) expect((await login('wrong password guess', i)).statusCode).toBe(401);
    const locked = await login(TEST_PASSWORD, 99);
    expect([locked.statusCode, locked.json().error.code]).toEqual([429, 'RATE_LIMITED']);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(locked.body).not.toContain('token');
  });
});

describe('API6 unrestricted access to sensitive business flows', () => {
  beforeAll(async () => {
    // The shipped rule set (RISK_SEED_RULES): velocity, lockouts, device rules.
    await w.t.services.risk.seedTemplates();
  });

  it('CDK redemption: guessing gets the customer refused (risk gate, then 429 lockout), even for a valid code', async () => {
    const batch = await admin('POST', '/admin/marketing/cdk-batches', { name: 'Launch', mode: 'single', count: 1, pattern: { prefix: 'KQ', charset: 'safe', length: 13, check_digit: true, group_size: 4 }, reward: { kind: 'balance', amount_fen: 500 } });
    expect(batch.statusCode, batch.body).toBe(201);
    const clear = await w.t.inject({ method: 'POST', url: `/admin/marketing/cdk-batches/${batch.json().batch.id}/export-clear`, headers: bearer(w.owner.token), payload: { reason: 'print' } });
    const code = clear.body.trim().split('\n')[1]!.split(',')[1]!.replace(/"/g, '');
    const customer = { provider: 'telegram', external_id: `guesser-${uniq()}` };
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await signedCall(w.t, partner, 'POST', '/open/v1/cdks/redeem', { code: `KQ-WRONG-${i}-AAAA`, customer }, `c-${uniq()}`)).statusCode);
    // The first guesses are answered (404), then the gate (account velocity, then the lockout) refuses every further try.
    const firstRefusal = statuses.findIndex((s) => s !== 404);
    expect(firstRefusal, statuses.join(',')).toBeGreaterThan(0);
    expect(firstRefusal).toBeLessThanOrEqual(10);
    expect(statuses.slice(firstRefusal).every((s) => s === 403 || s === 429), statuses.join(',')).toBe(true);
    const blocked = await signedCall(w.t, partner, 'POST', '/open/v1/cdks/redeem', { code, customer }, `c-${uniq()}`);
    expect([403, 429]).toContain(blocked.statusCode);
    expect(['RATE_LIMITED', 'RISK_BLOCKED', 'CHALLENGE_REQUIRED']).toContain(blocked.json().error.code);
    const [{ n }] = (await w.t.platform.database.executeSql<{ n: number }>('select count(*)::int as n from cdk_redemptions')).rows as [{ n: number }];
    expect(n).toBe(0);
  });

  it('coupon claims: one script claiming for many customers from one address is stopped by the risk gate', async () => {
    const tpl = await admin('POST', '/admin/marketing/coupon-templates', { name: `auto ${uniq()}`, kind: 'fixed', amount_off_fen: 500, valid_days: 30, claimable: true });
    expect(tpl.statusCode, tpl.body).toBe(201);
    const codes: string[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await signedCall(w.t, partner, 'POST', '/open/v1/coupons/claim', { template_id: tpl.json().id, customer: { provider: 'telegram', external_id: `farm-${i}-${uniq()}` } }, `cl-${uniq()}`);
      codes.push(res.statusCode === 201 ? 'ok' : res.json().error.code);
    }
    const stopped = codes.indexOf('CHALLENGE_REQUIRED') >= 0 ? codes.indexOf('CHALLENGE_REQUIRED') : codes.indexOf('RISK_BLOCKED');
    expect(stopped, codes.join(',')).toBeGreaterThan(0);
    expect(stopped).toBeLessThanOrEqual(30);
    expect(codes.slice(stopped).every((c) => c !== 'ok'), codes.join(',')).toBe(true);
    const issued = (await admin('GET', `/admin/marketing/coupon-templates/${tpl.json().id}`)).json();
    expect(issued.issued_count).toBe(stopped);
  });

  it('flash sale: a bot firing 15 parallel attempts gets exactly its per-buyer limit, one order', async () => {
    const now = w.t.platform.clock.now().getTime();
    const sale = await admin('POST', '/admin/marketing/flash-sales', { name: 'Bot bait', sku_id: w.skuId, price_fen: 100, units: 5, per_user_limit: 1, starts_at: new Date(now - 60_000).toISOString(), ends_at: new Date(now + 3_600_000).toISOString() });
    expect(sale.statusCode, sale.body).toBe(201);
    const before = (await w.t.platform.database.executeSql<{ n: number }>('select count(*)::int as n from orders')).rows[0]!.n;
    const results = await Promise.all(Array.from({ length: 15 }, () => signedCall(w.t, w.agentA.key, 'POST', `/open/v1/flash-sales/${sale.json().id}/orders`, { quantity: 1 }, `fs-${uniq()}`)));
    const ok = results.filter((r) => r.statusCode === 201);
    expect(ok.length, results.map((r) => r.statusCode).join(',')).toBe(1);
    for (const r of results) assertSafeResponse(r, w.secrets.filter((s) => !ok.some((o) => o.body.includes(s))), 'flash');
    expect(results.filter((r) => r.statusCode !== 201).every((r) => r.statusCode === 409 || r.statusCode === 403)).toBe(true);
    const after = (await w.t.platform.database.executeSql<{ n: number }>('select count(*)::int as n from orders')).rows[0]!.n;
    expect(after - before).toBe(1);
  });
});

describe('API7 server side request forgery', () => {
  const hostile = [
    'http://127.0.0.1:5432/', 'http://169.254.169.254/latest/meta-data/', 'http://[::1]/', 'http://10.0.0.8/', 'http://192.168.1.1/', 'http://172.16.0.1/',
    'http://0.0.0.0/', 'http://[::ffff:127.0.0.1]/', 'http://2130706433/', 'http://0x7f.1/', 'http://localhost:6379/', 'http://[fd00::1]/', 'http://100.100.100.200/',
  ];

  it('webhook endpoints (admin and open API) refuse loopback, private, link-local and metadata addresses', async () => {
    const before = await businessSnapshot(w.t);
    for (const url of hostile) {
      const a = await admin('POST', '/admin/webhooks/endpoints', { owner_type: 'partner', owner_id: 'partner-1', url: `${url}hook`, events: ['order.paid'] });
      expect([a.statusCode, a.json().error?.details?.[0]?.field], `${url}: ${a.body}`).toEqual([400, 'url']);
      const o = await signedCall(w.t, partner, 'POST', '/open/v1/webhooks/endpoints', { url: `${url}hook`, events: ['order.paid'] });
      expect(o.statusCode, `${url}: ${o.body}`).toBe(400);
    }
    for (const bad of ['file:///etc/passwd', 'gopher://127.0.0.1:6379/_x', 'http://user:pw@hooks.example.com/x']) expect((await admin('POST', '/admin/webhooks/endpoints', { owner_type: 'partner', owner_id: 'p', url: bad, events: ['order.paid'] })).statusCode).toBe(400);
    expect(await businessSnapshot(w.t)).toBe(before);
  });

  it('supplier base URLs refuse the same addresses (SUPPLIER_ALLOW_PRIVATE_NETWORKS=false)', async () => {
    const before = await businessSnapshot(w.t);
    for (const url of hostile) {
      const res = await admin('POST', '/admin/suppliers', { name: 'evil', base_url: url, api_key: 'k'.repeat(24), callback_secret: 's'.repeat(24) });
      expect([res.statusCode, res.json().error?.details?.[0]?.field], `${url}: ${res.body}`).toEqual([400, 'base_url']);
    }
    expect(await businessSnapshot(w.t)).toBe(before);
  });

  it('an allow-listed host is trusted even on a private address; others are refused by the list', async () => {
    const t = await bootTestApp({ env: { SUPPLIER_ALLOW_PRIVATE_NETWORKS: 'false', SUPPLIER_URL_ALLOWLIST: '127.0.0.1' } });
    try {
      const owner = (await t.loginAs('owner')).token;
      const create = (base_url: string) => t.inject({ method: 'POST', url: '/admin/suppliers', headers: bearer(owner), payload: { name: 'sim', base_url, api_key: 'k'.repeat(24), callback_secret: 's'.repeat(24) } });
      expect((await create('http://127.0.0.1:9/')).statusCode).toBe(201);
      expect((await create('http://169.254.169.254/')).statusCode).toBe(400);
      expect((await create('http://localhost:9/')).statusCode).toBe(400);
    } finally {
      await t.close();
    }
  });
});

describe('API8 security misconfiguration', () => {
  it('security headers on API answers, errors and docs; no x-powered-by; no stack in a 404', async () => {
    for (const res of [await w.t.inject({ method: 'GET', url: '/healthz' }), await w.t.inject({ method: 'GET', url: '/admin/orders' }), await w.t.inject({ method: 'GET', url: '/nope/../../etc/passwd' }), await w.t.inject({ method: 'GET', url: '/docs/json' })]) {
      expect(res.headers['x-powered-by']).toBeUndefined();
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      expect(String(res.headers['content-security-policy'])).toContain("default-src 'self'");
      expect(res.headers['x-request-id']).toBeTruthy();
      assertSafeResponse(res, w.secrets, res.raw.req.url ?? '');
    }
  });

  it('CORS: only the configured origin is allowed, with credentials; any other gets no CORS grant', async () => {
    const pre = (origin: string) => w.t.inject({ method: 'OPTIONS', url: '/admin/orders', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
    const good = await pre('https://shop.example.com');
    expect(good.headers['access-control-allow-origin']).toBe('https://shop.example.com');
    expect(good.headers['access-control-allow-credentials']).toBe('true');
    for (const origin of ['https://evil.example', 'null', 'https://shop.example.com.evil.example']) {
      const bad = await pre(origin);
      expect(bad.headers['access-control-allow-origin'], origin).toBeUndefined();
      const get = await w.t.inject({ method: 'GET', url: '/mp/v1/me', headers: { origin, ...bearer(w.custA.token) } });
      expect(get.headers['access-control-allow-origin'], origin).toBeUndefined();
    }
  });

  it('the session cookie is HttpOnly and SameSite; a JSON body with another media type is refused', async () => {
    const email = `cookie-${uniq()}@test.local`;
    await w.t.services.auth.createStaff({ email, name: 'c', role: 'support', password: TEST_PASSWORD }, null);
    const res = await w.t.inject({ method: 'POST', url: '/admin/auth/login', payload: { email, password: TEST_PASSWORD }, headers: { 'x-device-id': 'cookie-dev' }, remoteAddress: '192.0.2.200' });
    const cookie = res.cookies.find((c) => c.name === 'kq_session')!;
    expect(cookie.httpOnly).toBe(true);
    expect(['Strict', 'Lax']).toContain(cookie.sameSite);
    const form = await mp(w.t, w.custA, 'GET', '/mp/v1/me');
    expect(form.statusCode).toBe(200);
    const wrongType = await w.t.inject({ method: 'POST', url: '/admin/products', headers: { ...bearer(w.owner.token), 'content-type': 'application/x-www-form-urlencoded' }, payload: 'name=x' });
    expect([wrongType.statusCode, wrongType.json().error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
  });
});

describe('API9 improper inventory management', () => {
  it("the OpenAPI document lists every route Fastify serves (only the HTML pages are hidden, on purpose)", async () => {
    const doc = w.t.app.swagger() as { paths: Record<string, Record<string, unknown>> };
    const documented = new Set(Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`)));
    // Pages for people (a referral landing page and the one-time code reveal page), not API operations;
    // and the live dashboard's WebSocket, which OpenAPI 3.0 cannot describe.
    const hiddenOnPurpose = new Set(['GET /join/:referralCode', 'GET /r/:token', 'POST /r/:token', 'GET /admin/live']);
    const served = (w.t.app as unknown as { routeGuards: { method: string; url: string }[] }).routeGuards.map((g) => `${g.method} ${g.url}`);
    const undocumented = served.filter((r) => !documented.has(r) && !hiddenOnPurpose.has(r));
    expect(undocumented).toEqual([]);
    const ghost = [...documented].filter((r) => !served.includes(r));
    expect(ghost).toEqual([]);
    // Every documented operation says who may call it.
    expect(served.length).toBeGreaterThan(250);
  });

  it('no debug or test routes are served; /docs is read-only', async () => {
    for (const url of ['/debug', '/admin/debug', '/test', '/__routes', '/graphql', '/.env', '/metrics/../.env']) expect((await w.t.inject({ method: 'GET', url })).statusCode, url).toBe(404);
    expect((await w.t.inject({ method: 'POST', url: '/docs/json', payload: {} })).statusCode).toBe(404);
  });
});
