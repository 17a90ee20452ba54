import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { validatorCompiler } from '../../src/http/validation.js';
import { installErrorHandling } from '../../src/http/errors.js';
import { installJsonBodyParser } from '../../src/http/json-body.js';
import { installAuth } from '../../src/http/auth.js';
import { ErrorBody } from '../../src/http/schemas.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { createWebhookService, type WebhookService } from '../../src/modules/webhooks/service.js';
import { webhookRoutes } from '../../src/modules/webhooks/routes.js';

/**
 * The routes on a Fastify assembled like app.ts does (validation, errors, JSON
 * body, auth guard), because the booted test app is already ready and cannot
 * take more routes. No delivery is sent here: dispatch only writes rows.
 */
let t: TestApp;
let app: FastifyInstance;
let wh: WebhookService;
const tokens: Record<'owner' | 'readonly' | 'support', string> = { owner: '', readonly: '', support: '' };
let keyA: { id: string; secret: string };
let keyB: { id: string; secret: string };
const url = 'http://127.0.0.1:9/hooks';

beforeAll(async () => {
  t = await bootTestApp();
  wh = createWebhookService(t.platform, { audit: t.services.audit }, { allowPrivateNetworks: true });
  app = Fastify({ ajv: { customOptions: { removeAdditional: false } } });
  app.setValidatorCompiler(validatorCompiler);
  installErrorHandling(app);
  installJsonBodyParser(app);
  app.addSchema(ErrorBody);
  await app.register(cookie, { secret: t.config.sessionSecret });
  await app.register(swagger, {
    openapi: { openapi: '3.0.3', info: { title: 'webhooks', version: '0' } },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  installAuth(app, t.services.auth);
  await app.register(webhookRoutes, { webhooks: wh });
  await app.ready();
  for (const role of ['owner', 'readonly', 'support'] as const) tokens[role] = (await t.loginAs(role)).token;
  keyA = await t.services.auth.createApiKey({ ownerType: 'partner', ownerId: 'partner-a', name: 'a' }, { id: 'stf_setup' });
  keyB = await t.services.auth.createApiKey({ ownerType: 'partner', ownerId: 'partner-b', name: 'b' }, { id: 'stf_setup' });
});
afterAll(async () => {
  await app?.close();
  await t?.close();
});

const admin = (method: 'GET' | 'POST' | 'DELETE', path: string, role: keyof typeof tokens = 'owner', payload?: object) =>
  app.inject({ method, url: path, headers: bearer(tokens[role]), payload });
const signed = (key: { id: string; secret: string }, method: 'GET' | 'POST' | 'DELETE', path: string, payload?: object) => {
  const body = payload ? JSON.stringify(payload) : '';
  return app.inject({
    method,
    url: path,
    payload: body || undefined,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...signedHeaders(key.id, key.secret, method, path, body, new Date()) },
  });
};

describe('admin webhook routes', () => {
  it('every route is in the OpenAPI document', () => {
    const doc = app.swagger() as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths).filter((k) => k.includes('webhooks')).sort()).toEqual([
      '/admin/webhooks/deliveries',
      '/admin/webhooks/deliveries/{id}/redeliver',
      '/admin/webhooks/endpoints',
      '/admin/webhooks/endpoints/{id}',
      '/admin/webhooks/endpoints/{id}/rotate-secret',
      '/open/v1/webhooks/deliveries',
      '/open/v1/webhooks/deliveries/{id}/redeliver',
      '/open/v1/webhooks/endpoints',
      '/open/v1/webhooks/endpoints/{id}',
      '/open/v1/webhooks/endpoints/{id}/rotate-secret',
    ]);
    expect(Object.keys(doc.paths['/admin/webhooks/endpoints']!).sort()).toEqual(['get', 'post']);
  });

  it('creates an endpoint with its secret once; lists never show it', async () => {
    const res = await admin('POST', '/admin/webhooks/endpoints', 'owner', { owner_type: 'partner', owner_id: 'partner-b', url, events: ['order.paid', 'order.refunded'] });
    expect(res.statusCode).toBe(201);
    const created = res.json();
    expect(created).toMatchObject({ owner_type: 'partner', owner_id: 'partner-b', url, events: ['order.paid', 'order.refunded'], status: 'active' });
    expect(created.secret).toMatch(/^whsec_/);
    const list = await admin('GET', '/admin/webhooks/endpoints?limit=100');
    expect(list.statusCode).toBe(200);
    expect(list.json().data.map((e: { id: string }) => e.id)).toContain(created.id);
    expect(list.body).not.toContain(created.secret);
    expect(list.body).not.toContain('secret');
  });

  it('permissions: managing endpoints needs apikeys:manage, the log needs system:read', async () => {
    const body = { owner_type: 'partner', owner_id: 'p', url, events: ['order.paid'] };
    expect((await admin('POST', '/admin/webhooks/endpoints', 'readonly', body)).statusCode).toBe(403);
    expect((await admin('GET', '/admin/webhooks/endpoints', 'readonly')).statusCode).toBe(403);
    expect((await admin('GET', '/admin/webhooks/deliveries', 'readonly')).statusCode).toBe(200);
    expect((await admin('GET', '/admin/webhooks/deliveries', 'support')).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/admin/webhooks/deliveries' })).statusCode).toBe(401);
  });

  it('refuses bad bodies with the field at fault', async () => {
    const base = { owner_type: 'partner', owner_id: 'p', url, events: ['order.paid'] };
    const cases: [object, string][] = [
      [{ ...base, events: ['order.exploded'] }, 'events'],
      [{ ...base, events: [] }, 'events'],
      [{ ...base, events: ['order.paid', 'order.paid'] }, 'events'],
      [{ ...base, owner_type: 'customer' }, 'owner_type'],
      [{ ...base, url: 'ftp://files.example.com/in' }, 'url'],
      [{ ...base, secret: 'mine' }, 'secret'],
    ];
    for (const [payload, field] of cases) {
      const res = await admin('POST', '/admin/webhooks/endpoints', 'owner', payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().error.code).toBe('VALIDATION_FAILED');
      expect(JSON.stringify(res.json().error.details)).toContain(field);
    }
    expect((await admin('GET', '/admin/webhooks/deliveries?status=lost')).statusCode).toBe(400);
    expect((await admin('GET', '/admin/webhooks/deliveries?cursor=whe_01J0000000000000000000000Z')).statusCode).toBe(400);
    expect((await admin('DELETE', '/admin/webhooks/endpoints/whd_01J0000000000000000000000Z')).statusCode).toBe(400);
    expect((await admin('DELETE', '/admin/webhooks/endpoints/whe_01J0000000000000000000000Z')).statusCode).toBe(404);
  });
});

describe('open API webhook routes: a partner sees and changes only its own', () => {
  it('creates, lists, rotates and disables its own endpoints only', async () => {
    const mine = await signed(keyA, 'POST', '/open/v1/webhooks/endpoints', { url, events: ['order.delivered'] });
    expect(mine.statusCode).toBe(201);
    expect(mine.json()).toMatchObject({ owner_type: 'partner', owner_id: 'partner-a', events: ['order.delivered'] });
    expect(mine.json().secret).toMatch(/^whsec_/);
    // The owner comes from the key, never from the body.
    expect((await signed(keyA, 'POST', '/open/v1/webhooks/endpoints', { url, events: ['order.paid'], owner_id: 'partner-b' })).statusCode).toBe(400);

    const theirs = (await signed(keyB, 'POST', '/open/v1/webhooks/endpoints', { url, events: ['order.paid'] })).json();
    const listA = await signed(keyA, 'GET', '/open/v1/webhooks/endpoints?limit=100');
    expect(listA.statusCode).toBe(200);
    const ownersA = new Set(listA.json().data.map((e: { owner_id: string }) => e.owner_id));
    expect(ownersA).toEqual(new Set(['partner-a']));
    expect(listA.body).not.toContain(theirs.id);
    expect(listA.body).not.toContain('whsec_');

    expect((await signed(keyA, 'DELETE', `/open/v1/webhooks/endpoints/${theirs.id}`)).statusCode).toBe(404);
    expect((await signed(keyA, 'POST', `/open/v1/webhooks/endpoints/${theirs.id}/rotate-secret`)).statusCode).toBe(404);
    const rotated = await signed(keyA, 'POST', `/open/v1/webhooks/endpoints/${mine.json().id}/rotate-secret`);
    expect(rotated.statusCode).toBe(200);
    expect(rotated.json().secret).not.toBe(mine.json().secret);
    const off = await signed(keyA, 'DELETE', `/open/v1/webhooks/endpoints/${mine.json().id}`);
    expect(off.json()).toMatchObject({ id: mine.json().id, status: 'disabled' });
    expect((await signed(keyB, 'GET', '/open/v1/webhooks/endpoints?status=active')).json().data.map((e: { id: string }) => e.id)).toContain(theirs.id);
  });

  it('sees only deliveries to its own endpoints; redelivery is scoped and audited', async () => {
    const a = (await signed(keyA, 'POST', '/open/v1/webhooks/endpoints', { url, events: ['stock.low', 'order.paid'] })).json();
    const b = (await signed(keyB, 'POST', '/open/v1/webhooks/endpoints', { url, events: ['stock.low'] })).json();
    await t.platform.db.transaction(async (tx) => {
      await wh.enqueue(tx, { type: 'stock.low', data: { sku_id: 'sku_x' } });
      await wh.enqueue(tx, { type: 'order.paid', ownerType: 'partner', ownerId: 'partner-a', data: { order_id: 'ord_a' } });
    });
    await wh.dispatchPending();

    const forA = await signed(keyA, 'GET', '/open/v1/webhooks/deliveries?limit=100');
    expect(forA.statusCode).toBe(200);
    const rowsA: { id: string; endpoint_id: string; event_type: string }[] = forA.json().data;
    expect(rowsA.length).toBeGreaterThanOrEqual(2);
    expect(new Set(rowsA.map((d) => d.endpoint_id))).toEqual(new Set([a.id]));
    const forB: { id: string; endpoint_id: string }[] = (await signed(keyB, 'GET', '/open/v1/webhooks/deliveries?limit=100')).json().data;
    expect(forB.map((d) => d.endpoint_id)).toContain(b.id);
    expect(forB.some((d) => d.endpoint_id === a.id)).toBe(false);

    const page = await admin('GET', `/admin/webhooks/deliveries?limit=1&endpoint_id=${a.id}`, 'readonly');
    expect(page.json()).toMatchObject({ has_more: true, data: [{ endpoint_id: a.id }] });
    const next = await admin('GET', `/admin/webhooks/deliveries?limit=1&endpoint_id=${a.id}&cursor=${page.json().next_cursor}`, 'readonly');
    expect(next.json().data[0].id < page.json().data[0].id).toBe(true);

    const target = rowsA[0]!;
    expect((await signed(keyB, 'POST', `/open/v1/webhooks/deliveries/${target.id}/redeliver`)).statusCode).toBe(404);
    const byPartner = await signed(keyA, 'POST', `/open/v1/webhooks/deliveries/${target.id}/redeliver`);
    expect(byPartner.statusCode).toBe(200);
    expect(byPartner.json()).toMatchObject({ id: target.id, status: 'pending' });
    expect((await admin('POST', `/admin/webhooks/deliveries/${target.id}/redeliver`, 'readonly')).statusCode).toBe(403);
    const byStaff = await admin('POST', `/admin/webhooks/deliveries/${target.id}/redeliver`);
    expect(byStaff.statusCode).toBe(200);
    const audit = await t.services.audit.list({ limit: 2, action: 'webhook.redeliver' });
    expect(audit.data.map((r) => r.actor_type)).toEqual(['staff', 'api_key']);
    expect(audit.data[1]).toMatchObject({ actor_id: keyA.id, target_id: target.id });
  });

  it('an unsigned call is refused', async () => {
    const res = await app.inject({ method: 'GET', url: '/open/v1/webhooks/endpoints' });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('INVALID_SIGNATURE');
  });
});
