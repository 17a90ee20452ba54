import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { bearer, type TestApp } from '../helpers/boot.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import type { Clock } from '../../src/lib/clock.js';

export type Call = (method: 'GET' | 'POST', url: string, body?: object, headers?: Record<string, string>) => ReturnType<TestApp['inject']>;

/** A partner API key and a signed caller for the open API (customers are named by identity in the body or query). */
export async function partnerCaller(t: TestApp, ownerToken: string, clock: Clock): Promise<Call> {
  const res = await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(ownerToken), payload: { owner_type: 'partner', owner_id: `p-${randomBytes(3).toString('hex')}`, name: 'shop' } });
  expect(res.statusCode).toBe(201);
  const key = res.json() as { id: string; secret: string };
  return (method, url, body, headers = {}) => {
    const raw = body ? JSON.stringify(body) : '';
    return t.inject({ method, url, payload: raw || undefined, headers: { ...(raw ? { 'content-type': 'application/json' } : {}), ...headers, ...signedHeaders(key.id, key.secret, method, url, raw, clock.now()) } });
  };
}

/** A customer by a fresh partner identity (created on first sight). */
export async function newCustomer(t: TestApp) {
  const identity = { provider: 'partner' as const, external_id: `c-${randomBytes(5).toString('hex')}` };
  const { customerId } = await t.services.customers.resolve({ identity: { provider: identity.provider, externalId: identity.external_id } });
  return { id: customerId, identity };
}
