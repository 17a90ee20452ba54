import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect } from 'vitest';
import { bootTestApp, type TestApp } from './boot.js';
import { startFakeWechatMp, type FakeWechatMp } from '../fakes/wechat-mp/server.js';
import type { Clock } from '../../src/lib/clock.js';

/** The mini-program credentials the fake WeChat server and the app agree on. */
export const APPID = 'wx0123456789abcdef';
export const SECRET = '0123456789abcdef0123456789abcdef';

export const uniq = () => randomBytes(6).toString('hex');

export interface MpApp {
  t: TestApp;
  wx: FakeWechatMp;
}
export interface MpSession {
  token: string;
  customerId: string;
  openid: string;
}

/**
 * The app wired to a fake WeChat mini-program server, booted once for the test file and closed after it.
 * `use` receives both before the first test (and may log staff in); extra `env` is added to the WeChat settings.
 */
export function bootMpAppForFile(use: (app: MpApp) => void | Promise<void>, opts: { clock?: Clock; env?: Record<string, string> } = {}): void {
  let wx: FakeWechatMp | undefined;
  let t: TestApp | undefined;
  beforeAll(async () => {
    wx = await startFakeWechatMp({ appId: APPID, secret: SECRET });
    t = await bootTestApp({ clock: opts.clock, env: { WECHAT_MP_APPID: APPID, WECHAT_MP_SECRET: SECRET, WECHAT_MP_API_BASE: wx.url, RISK_SEED_RULES: 'false', ...opts.env } });
    await use({ t, wx });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await wx?.close();
  });
}

/** A new customer signed in the way the phone does it: a one-off wx.login code for a fresh openid. */
export async function mpLogin({ t, wx }: MpApp): Promise<MpSession> {
  const code = `code-${uniq()}`;
  const openid = `o_${uniq()}`;
  wx.loginCode(code, { openid });
  const res = await t.inject({ method: 'POST', url: '/mp/v1/login', payload: { code } });
  expect(res.statusCode, res.body).toBe(200);
  return { token: res.json().token, customerId: res.json().customer.id, openid };
}
