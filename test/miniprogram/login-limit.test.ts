import { describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/boot.js';
import type { FakeWechatMp } from '../fakes/wechat-mp/server.js';
import { bootMpAppForFile, uniq } from '../helpers/mp-app.js';

/** POST /mp/v1/login: at most MP_LOGIN_PER_IP attempts (good or bad codes) per client IP and window; then 429 with Retry-After, before WeChat is asked. */
let t: TestApp;
let wx: FakeWechatMp;
bootMpAppForFile(
  (app) => {
    ({ t, wx } = app);
  },
  { env: { MP_LOGIN_PER_IP: '30' } },
);
let short: TestApp;
let shortWx: FakeWechatMp;
bootMpAppForFile(
  (app) => {
    ({ t: short, wx: shortWx } = app);
  },
  { env: { MP_LOGIN_PER_IP: '2', MP_LOGIN_WINDOW_SECONDS: '1' } },
);

const login = (app: TestApp, code: string, ip: string) => app.inject({ method: 'POST', url: '/mp/v1/login', payload: { code }, remoteAddress: ip });
const goodCode = (fake: FakeWechatMp) => {
  const code = `code-${uniq()}`;
  fake.loginCode(code, { openid: `o_${uniq()}` });
  return code;
};

describe('mini-program login rate limit', () => {
  it('30 attempts per IP a minute, good or bad; the 31st gets 429 with Retry-After and WeChat is not asked; another IP still logs in', async () => {
    const ip = '203.0.113.7';
    const answers: number[] = [];
    for (let i = 0; i < 30; i++) answers.push((await login(t, i % 3 === 0 ? `bad-${uniq()}` : goodCode(wx), ip)).statusCode);
    expect(answers).toEqual(Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? 422 : 200)));
    const code = goodCode(wx);
    const limited = await login(t, code, ip);
    expect(limited.statusCode).toBe(429);
    const retry = Number(limited.headers['retry-after']);
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    expect(limited.json()).toEqual({ error: { code: 'RATE_LIMITED', message: 'too many logins from this address; try again later', details: { retry_after_seconds: retry } } });
    // The code was not spent at WeChat: it still works from another address.
    expect((await login(t, code, '203.0.113.8')).statusCode).toBe(200);
  });

  it('the window expires: 2 per second here, a third waits, then logs in', async () => {
    const ip = '198.51.100.77';
    expect((await login(short, goodCode(shortWx), ip)).statusCode).toBe(200);
    expect((await login(short, goodCode(shortWx), ip)).statusCode).toBe(200);
    const code = goodCode(shortWx);
    const limited = await login(short, code, ip);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('1');
    await new Promise((r) => setTimeout(r, 1100));
    expect((await login(short, code, ip)).statusCode).toBe(200);
  });
});
