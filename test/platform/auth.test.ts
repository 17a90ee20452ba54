import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticator } from 'otplib';
import { bootTestApp, bearer, TEST_PASSWORD, type TestApp } from '../helpers/boot.js';
import { ManualClock, MINUTE } from '../../src/lib/clock.js';

const clock = new ManualClock(new Date());
let t: TestApp;
beforeAll(async () => {
  // The risk gate runs without rules here: this file proves the login limiter (429s, counters cleared on success);
  // the gate's lockout, velocity and platform-wide rules on logins are proved in test/risk (gate, engine, attack replay).
  t = await bootTestApp({ clock, env: { LOGIN_MAX_FAILS_PER_ACCOUNT: '5', LOGIN_MAX_FAILS_PER_IP: '12', SESSION_TTL_MINUTES: '60', RISK_SEED_RULES: 'false' } });
});
afterAll(() => t.close());

const login = (email: string, password: string, ip = '198.51.100.7', otp?: string) =>
  t.inject({ method: 'POST', url: '/admin/auth/login', payload: { email, password, ...(otp ? { otp } : {}) }, remoteAddress: ip });

describe('staff login and sessions', () => {
  it('argon2id hashes, HttpOnly signed SameSite cookie, and a bearer token', async () => {
    await t.services.auth.createStaff({ email: 'Alice@Test.local', name: 'Alice', role: 'finance', password: TEST_PASSWORD }, null);
    const [row] = (await t.platform.database.executeSql<{ password_hash: string }>(`select password_hash from staff_users where email = 'alice@test.local'`)).rows;
    expect(row!.password_hash).toMatch(/^\$argon2id\$/);

    const res = await login('alice@test.local', TEST_PASSWORD);
    expect(res.statusCode).toBe(200);
    const cookie = res.cookies.find((c) => c.name === 'kq_session')!;
    expect(cookie.httpOnly).toBe(true);
    expect(cookie.sameSite).toBe('Strict');
    expect(cookie.value).toContain('.'); // signed
    const me = await t.inject({ method: 'GET', url: '/admin/auth/me', cookies: { kq_session: cookie.value } });
    expect(me.statusCode).toBe(200);
    expect(me.json().user.email).toBe('alice@test.local');
    expect(me.json().permissions).toContain('finance:withdrawals');
    expect((await t.inject({ method: 'GET', url: '/admin/auth/me', headers: bearer(res.json().token) })).statusCode).toBe(200);
    // A session token is stored only as a hash.
    const sessions = (await t.platform.database.executeSql<{ token_hash: string }>('select token_hash from staff_sessions')).rows;
    expect(sessions.some((s) => s.token_hash === res.json().token)).toBe(false);
  });

  it('a tampered cookie is refused', async () => {
    const res = await login('alice@test.local', TEST_PASSWORD);
    const value = res.cookies.find((c) => c.name === 'kq_session')!.value;
    const [token, sig] = value.split('.') as [string, string];
    const forged = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}.${sig}`;
    expect((await t.inject({ method: 'GET', url: '/admin/auth/me', cookies: { kq_session: forged } })).statusCode).toBe(401);
  });

  it('wrong password and unknown account look the same', async () => {
    const a = await login('alice@test.local', 'wrong-password', '198.51.100.20');
    const b = await login('nobody@test.local', 'wrong-password', '198.51.100.21');
    expect(a.statusCode).toBe(401);
    expect(b.statusCode).toBe(401);
    expect(a.json().error).toEqual(b.json().error);
  });

  it('sessions expire with the clock and end at logout', async () => {
    const res = await login('alice@test.local', TEST_PASSWORD);
    const token = res.json().token;
    clock.advance(59 * MINUTE);
    expect((await t.inject({ method: 'GET', url: '/admin/auth/me', headers: bearer(token) })).statusCode).toBe(200);
    clock.advance(2 * MINUTE);
    expect((await t.inject({ method: 'GET', url: '/admin/auth/me', headers: bearer(token) })).statusCode).toBe(401);

    const fresh = (await login('alice@test.local', TEST_PASSWORD)).json().token;
    expect((await t.inject({ method: 'POST', url: '/admin/auth/logout', headers: bearer(fresh) })).statusCode).toBe(200);
    expect((await t.inject({ method: 'GET', url: '/admin/auth/me', headers: bearer(fresh) })).statusCode).toBe(401);
    expect(await t.services.auth.purgeExpiredSessions()).toBeGreaterThan(0);
  });

  it('disabling a staff account ends its sessions at once', async () => {
    const owner = await t.loginAs('owner');
    const bob = await t.loginAs('support');
    const res = await t.inject({ method: 'PATCH', url: `/admin/staff/${bob.userId}`, headers: bearer(owner.token), payload: { disabled: true } });
    expect(res.statusCode).toBe(200);
    expect((await t.inject({ method: 'GET', url: '/admin/auth/me', headers: bearer(bob.token) })).statusCode).toBe(401);
  });

  it('password change needs the current password and a long new one', async () => {
    const carol = await t.loginAs('risk', 'carol@test.local');
    const h = bearer(carol.token);
    expect((await t.inject({ method: 'POST', url: '/admin/auth/password', headers: h, payload: { current_password: 'nope', new_password: 'another-long-password' } })).statusCode).toBe(401);
    const short = await t.inject({ method: 'POST', url: '/admin/auth/password', headers: h, payload: { current_password: TEST_PASSWORD, new_password: 'short' } });
    expect(short.statusCode).toBe(400);
    expect(short.json().error.details[0].field).toBe('password');
    expect((await t.inject({ method: 'POST', url: '/admin/auth/password', headers: h, payload: { current_password: TEST_PASSWORD, new_password: 'another-long-password' } })).statusCode).toBe(200);
    expect((await login('carol@test.local', 'another-long-password', '198.51.100.30')).statusCode).toBe(200);
  });
});

describe('TOTP second factor', () => {
  it('enrol, confirm, then every login needs the current code', async () => {
    const dave = await t.loginAs('operations', 'dave@test.local');
    const enrol = await t.inject({ method: 'POST', url: '/admin/auth/totp/enroll', headers: bearer(dave.token) });
    expect(enrol.statusCode).toBe(200);
    const { secret, otpauth_url } = enrol.json();
    expect(otpauth_url).toMatch(/^otpauth:\/\/totp\/kaquan:dave%40test.local\?secret=/);
    const code = () => authenticator.clone({ epoch: clock.now().getTime() }).generate(secret);

    expect((await t.inject({ method: 'POST', url: '/admin/auth/totp/confirm', headers: bearer(dave.token), payload: { otp: '000000' === code() ? '111111' : '000000' } })).statusCode).toBe(400);
    expect((await t.inject({ method: 'POST', url: '/admin/auth/totp/confirm', headers: bearer(dave.token), payload: { otp: code() } })).statusCode).toBe(200);

    const without = await login('dave@test.local', TEST_PASSWORD, '198.51.100.40');
    expect(without.statusCode).toBe(401);
    expect(without.json().error.code).toBe('OTP_REQUIRED');
    const stale = authenticator.clone({ epoch: clock.now().getTime() - 10 * MINUTE }).generate(secret);
    expect((await login('dave@test.local', TEST_PASSWORD, '198.51.100.40', stale === code() ? '123456' : stale)).statusCode).toBe(401);
    expect((await login('dave@test.local', TEST_PASSWORD, '198.51.100.40', code())).statusCode).toBe(200);
    // The secret is sealed at rest.
    const rows = (await t.platform.database.executeSql<{ s: string }>(`select encode(totp_secret_sealed, 'escape') as s from staff_users where email = 'dave@test.local'`)).rows;
    expect(rows[0]!.s).not.toContain(secret);
  });
});

describe('login rate limits (credential stuffing)', () => {
  it('blocks an account after 5 failures even from many IPs, and reports it', async () => {
    await t.services.auth.createStaff({ email: 'erin@test.local', name: 'Erin', role: 'readonly', password: TEST_PASSWORD }, null);
    for (let i = 0; i < 5; i++) expect((await login('erin@test.local', 'guess-' + i, `203.0.113.${i}`)).statusCode).toBe(401);
    const blocked = await login('erin@test.local', TEST_PASSWORD, '203.0.113.99');
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().error.code).toBe('RATE_LIMITED');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    const audit = await t.services.audit.list({ limit: 10, action: 'auth.login_blocked' });
    expect(audit.data.some((a) => a.target_id === 'erin@test.local')).toBe(true);
  });

  it('blocks an IP that sprays many accounts', async () => {
    const ip = '192.0.2.50';
    for (let i = 0; i < 12; i++) expect((await login(`spray${i}@test.local`, 'password123', ip)).statusCode).toBe(401);
    const res = await login('alice@test.local', TEST_PASSWORD, ip);
    expect(res.statusCode).toBe(429);
    // Another IP is not affected.
    expect((await login('alice@test.local', TEST_PASSWORD, '192.0.2.51')).statusCode).toBe(200);
  });

  it('a success clears the account counter', async () => {
    await t.services.auth.createStaff({ email: 'frank@test.local', name: 'Frank', role: 'readonly', password: TEST_PASSWORD }, null);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4; i++) await login('frank@test.local', 'bad-password', `198.18.0.${round * 10 + i}`);
      expect((await login('frank@test.local', TEST_PASSWORD, `198.18.1.${round}`)).statusCode).toBe(200);
    }
  });
});
