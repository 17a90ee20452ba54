import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';

let t: TestApp;
let owner: string;
beforeAll(async () => {
  t = await bootTestApp({ env: { BODY_LIMIT_BYTES: '4096' } });
  owner = (await t.loginAs('owner')).token;
});
afterAll(() => t.close());

function expectErrorShape(body: unknown, code: string) {
  expect(body).toMatchObject({ error: { code, message: expect.any(String) } });
  expect(Object.keys((body as { error: object }).error).sort()).toEqual(['code', 'details', 'message']);
}

describe('bad requests get a clear 4xx in the one error shape', () => {
  it('malformed JSON -> 400 INVALID_JSON', async () => {
    const res = await t.inject({ method: 'POST', url: '/admin/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"email": "a@b.c",' });
    expect(res.statusCode).toBe(400);
    expectErrorShape(res.json(), 'INVALID_JSON');
  });

  it('wrong type -> 400 naming the field, no coercion of "5" into a number', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/admin/products',
      headers: bearer(owner),
      payload: { name: 'x', brand: 'b', category: 'c', kind: 'code', skus: [{ name: 's', face_value_fen: '500', cost_fen: 1, retail_price_fen: 2 }] },
    });
    expect(res.statusCode).toBe(400);
    expectErrorShape(res.json(), 'VALIDATION_FAILED');
    expect(res.json().error.details).toContainEqual({ field: 'skus.0.face_value_fen', message: 'must be integer' });
  });

  it('a float where fen are expected -> 400', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/admin/products',
      headers: bearer(owner),
      payload: { name: 'x', brand: 'b', category: 'c', kind: 'code', skus: [{ name: 's', face_value_fen: 5.5, cost_fen: 1, retail_price_fen: 2 }] },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details[0].field).toBe('skus.0.face_value_fen');
  });

  it('unknown field -> 400 naming it (not silently dropped)', async () => {
    const res = await t.inject({ method: 'POST', url: '/admin/auth/login', payload: { email: 'a@b.cn', password: 'x', role: 'owner' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details).toContainEqual({ field: 'role', message: 'is not an allowed field' });
  });

  it('missing field -> 400 naming it', async () => {
    const res = await t.inject({ method: 'POST', url: '/admin/auth/login', payload: { email: 'a@b.cn' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details).toContainEqual({ field: 'password', message: "must have required property 'password'" });
  });

  it('oversize body -> 413', async () => {
    const res = await t.inject({ method: 'POST', url: '/admin/auth/login', payload: { email: 'a@b.cn', password: 'x'.repeat(10_000) } });
    expect(res.statusCode).toBe(413);
    expectErrorShape(res.json(), 'PAYLOAD_TOO_LARGE');
  });

  it('JSON with a charset parameter is JSON', async () => {
    const res = await t.inject({ method: 'POST', url: '/admin/auth/login', headers: { 'content-type': 'application/json; charset=utf-8', 'x-device-id': 'errors-test-device' }, payload: JSON.stringify({ email: 'nobody@x.cn', password: 'whatever-password' }) });
    expect(res.statusCode).toBe(401);
  });

  it('unsupported content type -> 415', async () => {
    const res = await t.inject({ method: 'POST', url: '/admin/auth/login', headers: { 'content-type': 'text/xml' }, payload: '<a/>' });
    expect(res.statusCode).toBe(415);
    expectErrorShape(res.json(), 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('prototype poisoning is refused', async () => {
    const res = await t.inject({ method: 'POST', url: '/admin/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"email":"a@b.cn","password":"x","__proto__":{"admin":true}}' });
    expect(res.statusCode).toBe(400);
  });

  it('unknown route -> 404 in the same shape', async () => {
    const res = await t.inject({ method: 'GET', url: '/nope?x=1' });
    expect(res.statusCode).toBe(404);
    expectErrorShape(res.json(), 'NOT_FOUND');
    expect(res.json().error.message).toBe('no route for GET /nope');
  });

  it('bad path parameter -> 400, not a database error', async () => {
    const res = await t.inject({ method: 'GET', url: "/admin/customers/cus_'; drop table customers;--", headers: bearer(owner) });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details[0].field).toBe('id');
  });

  it('page size over 100 -> 400; wrong cursor format -> 400', async () => {
    expect((await t.inject({ method: 'GET', url: '/admin/customers?limit=101', headers: bearer(owner) })).statusCode).toBe(400);
    expect((await t.inject({ method: 'GET', url: '/admin/customers?cursor=abc', headers: bearer(owner) })).statusCode).toBe(400);
    expect((await t.inject({ method: 'GET', url: '/admin/customers?limit=abc', headers: bearer(owner) })).statusCode).toBe(400);
  });

  it('empty body where one is required -> 400', async () => {
    const res = await t.inject({ method: 'POST', url: '/admin/auth/login', headers: { 'content-type': 'application/json' }, payload: '' });
    expect(res.statusCode).toBe(400);
    expectErrorShape(res.json(), 'VALIDATION_FAILED');
  });

  it('a business conflict maps to 409 and does not write half of it', async () => {
    const body = { email: 'dup@test.local', name: 'Dup', role: 'support', password: 'long-enough-password' };
    expect((await t.inject({ method: 'POST', url: '/admin/staff', headers: bearer(owner), payload: body })).statusCode).toBe(201);
    const auditBefore = (await t.services.audit.list({ limit: 100 })).data.length;
    const res = await t.inject({ method: 'POST', url: '/admin/staff', headers: bearer(owner), payload: body });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.details).toEqual([{ field: 'email', message: 'already exists' }]);
    expect((await t.services.audit.list({ limit: 100 })).data.length).toBe(auditBefore);
  });
});

describe('health, headers, docs', () => {
  it('healthz and readyz answer', async () => {
    expect((await t.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await t.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().status).toBe('ready');
  });

  it('readyz says 503 when the database is gone', async () => {
    const other = await bootTestApp();
    await other.platform.database.close();
    const res = await other.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json().status).toBe('not ready');
    await other.app.close();
    await other.platform.kv.close();
    await other.close().catch(() => undefined);
  });

  it('security headers are set, CORS is off, every response has a request id', async () => {
    const res = await t.inject({ method: 'GET', url: '/healthz', headers: { origin: 'https://evil.example' } });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['strict-transport-security']).toBeDefined();
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('the OpenAPI document lists every route with its schema', async () => {
    const res = await t.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe('3.0.3');
    // WebSocket routes (the live dashboard) have no OpenAPI 3.0 form; @fastify/swagger leaves them out.
    for (const guard of t.app.routeGuards.filter((g) => (g.url.startsWith('/admin') || g.url.startsWith('/open')) && g.url !== '/admin/live')) {
      const path = guard.url.replace(/:(\w+)/g, '{$1}');
      expect(doc.paths[path]?.[guard.method.toLowerCase()], `${guard.method} ${path} in OpenAPI`).toBeDefined();
    }
    expect(doc.paths['/admin/auth/login'].post.requestBody.content['application/json'].schema.additionalProperties).toBe(false);
    expect((await t.inject({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
  });
});
