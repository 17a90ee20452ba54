import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { ManualClock, MINUTE } from '../../src/lib/clock.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';

const clock = new ManualClock(new Date());
let t: TestApp;
let owner: string;
let key: { id: string; secret: string };
beforeAll(async () => {
  t = await bootTestApp({ clock });
  owner = (await t.loginAs('owner')).token;
  const res = await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'partner', owner_id: 'partner-42', name: 'shop sync' } });
  expect(res.statusCode).toBe(201);
  key = res.json();
  expect(key.secret).toMatch(/^sk_/);
});
afterAll(() => t.close());

const signed = (method: 'GET' | 'POST', url: string, body = '', o: { at?: Date; nonce?: string; secret?: string; keyId?: string } = {}) =>
  t.inject({
    method,
    url,
    payload: body || undefined,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...signedHeaders(o.keyId ?? key.id, o.secret ?? key.secret, method, url, body, o.at ?? clock.now(), o.nonce) },
  });

describe('open API request signatures', () => {
  it('a correctly signed request is accepted', async () => {
    const res = await signed('GET', '/open/v1/whoami');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ key_id: key.id, owner_type: 'partner', owner_id: 'partner-42' });
  });

  it('the secret is shown once and never listed, and is sealed at rest', async () => {
    const list = await t.inject({ method: 'GET', url: '/admin/api-keys', headers: bearer(owner) });
    expect(list.body).not.toContain(key.secret);
    const rows = (await t.platform.database.executeSql<{ s: string }>(`select encode(secret_sealed, 'escape') as s from api_keys`)).rows;
    expect(rows.map((r) => r.s).join('')).not.toContain(key.secret);
  });

  it('no signature -> 401', async () => {
    const res = await t.inject({ method: 'GET', url: '/open/v1/whoami' });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('INVALID_SIGNATURE');
  });

  it('a timestamp more than 5 minutes off is refused, either way', async () => {
    expect((await signed('GET', '/open/v1/whoami', '', { at: new Date(clock.now().getTime() - 6 * MINUTE) })).statusCode).toBe(401);
    expect((await signed('GET', '/open/v1/whoami', '', { at: new Date(clock.now().getTime() + 6 * MINUTE) })).statusCode).toBe(401);
    expect((await signed('GET', '/open/v1/whoami', '', { at: new Date(clock.now().getTime() - 4 * MINUTE) })).statusCode).toBe(200);
  });

  it('a reused nonce is refused (replay)', async () => {
    const nonce = 'replay-nonce-0123456789';
    expect((await signed('GET', '/open/v1/whoami', '', { nonce })).statusCode).toBe(200);
    const again = await signed('GET', '/open/v1/whoami', '', { nonce });
    expect(again.statusCode).toBe(401);
    expect(again.json().error.message).toContain('nonce');
  });

  it('a tampered body, path or method breaks the signature', async () => {
    const body = JSON.stringify({ provider: 'telegram', external_id: '777' });
    const headers = signedHeaders(key.id, key.secret, 'POST', '/open/v1/customers/resolve', body, clock.now());
    const tampered = await t.inject({ method: 'POST', url: '/open/v1/customers/resolve', headers: { ...headers, 'content-type': 'application/json' }, payload: body.replace('777', '778') });
    expect(tampered.statusCode).toBe(401);
    const otherPath = signedHeaders(key.id, key.secret, 'GET', '/open/v1/whoami?x=1', '', clock.now());
    expect((await t.inject({ method: 'GET', url: '/open/v1/whoami', headers: otherPath })).statusCode).toBe(401);
    expect((await signed('GET', '/open/v1/whoami', '', { secret: 'sk_wrong' })).statusCode).toBe(401);
  });

  it('a signed POST resolves a chat identity to one customer', async () => {
    const body = JSON.stringify({ provider: 'telegram', external_id: '555', display_name: 'Tg user', locale: 'en' });
    const first = await signed('POST', '/open/v1/customers/resolve', body);
    expect(first.statusCode).toBe(200);
    expect(first.json().created).toBe(true);
    const second = await signed('POST', '/open/v1/customers/resolve', body);
    expect(second.json()).toEqual({ customer_id: first.json().customer_id, created: false });
  });

  it('a signed request with a bad body still gets a 400 naming the field', async () => {
    const res = await signed('POST', '/open/v1/customers/resolve', JSON.stringify({ provider: 'myspace', external_id: '1' }));
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details[0].field).toBe('provider');
  });

  it('a revoked key is refused', async () => {
    const other = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'agent', owner_id: 'agt_x', name: 'bot' } })).json();
    expect((await signed('GET', '/open/v1/whoami', '', { keyId: other.id, secret: other.secret })).statusCode).toBe(200);
    expect((await t.inject({ method: 'DELETE', url: `/admin/api-keys/${other.id}`, headers: bearer(owner) })).statusCode).toBe(200);
    expect((await signed('GET', '/open/v1/whoami', '', { keyId: other.id, secret: other.secret })).statusCode).toBe(401);
    const audit = await t.services.audit.list({ limit: 5, action: 'apikey.revoke' });
    expect(audit.data[0]!.target_id).toBe(other.id);
  });
});
