import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { bootTestApp, bearer, TEST_PASSWORD, type TestApp } from '../helpers/boot.js';
import { createLogger } from '../../src/lib/logger.js';

const lines: string[] = [];
const sink = new Writable({
  write(chunk, _enc, cb) {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    cb();
  },
});
let t: TestApp;
beforeAll(async () => {
  t = await bootTestApp({ logger: createLogger('debug', sink) });
});
afterAll(() => t.close());

describe('logs never carry secrets or full phone numbers', () => {
  it('a journey with logins, failures, keys and phones leaves no secret in any line', async () => {
    const owner = await t.loginAs('owner', 'boss@log.test');
    await t.inject({ method: 'POST', url: '/admin/auth/login', headers: { 'x-device-id': 'log-test-device' }, payload: { email: 'boss@log.test', password: 'wrong-guess-password' } });
    const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner.token), payload: { owner_type: 'partner', owner_id: 'p', name: 'k' } })).json();
    const c = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: '9' } });
    await t.services.customers.setPhone(c.customerId, '13912345678');
    t.platform.logger.info({ phone: '13912345678', customer: { phone: '13912345678' }, password: TEST_PASSWORD, token: owner.token }, 'customer 13912345678 asked for help');
    t.platform.logger.info({ user: { secret: key.secret } }, 'nested secret');

    const all = lines.join('\n');
    expect(lines.length).toBeGreaterThan(5);
    for (const secret of [TEST_PASSWORD, 'wrong-guess-password', owner.token, key.secret, '13912345678']) expect(all).not.toContain(secret);
    expect(all).toContain('139****5678');
    expect(all).toContain('staff login failed');
    expect(all).toContain('[REDACTED]');
    expect(lines.every((l) => JSON.parse(l).level)).toBe(true);
    expect(lines.some((l) => JSON.parse(l).reqId)).toBe(true);
  });
});
