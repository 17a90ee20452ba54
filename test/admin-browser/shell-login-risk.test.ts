import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticator } from 'otplib';
import type { Page } from 'playwright-core';
import { bearer } from '../helpers/boot.js';
import { chromiumAvailable, startAdminHarness, type AdminHarness, type StaffLogin } from './harness.js';

/**
 * The panel's sign-in under the seeded risk rules plus a rule that challenges
 * every staff login from a device: the browser solves the ALTCHA proof of
 * work for each step (password, then code) and gets in, and the gate's
 * decisions carry the panel's device id. A tampered challenge shows the
 * server's refusal instead.
 */
interface DecisionView {
  action: string;
  subject: string | null;
  device: string | null;
  decision: string;
  reasons: unknown[];
}

describe.skipIf(!chromiumAvailable)('admin sign-in through the risk gate', () => {
  let h: AdminHarness;
  let owner: string;

  beforeAll(async () => {
    h = await startAdminHarness();
    owner = (await h.t.loginAs('owner')).token;
    const res = await h.t.inject({
      method: 'POST',
      url: '/admin/risk/rules',
      headers: bearer(owner),
      payload: { name: 'Every panel sign-in proves a human', action: 'challenge', mode: 'enforce', applies_to: ['login'], condition: { field: 'missingDevice', op: 'eq', value: false } },
    });
    expect(res.statusCode, res.body).toBe(201);
  }, 60_000);
  afterAll(() => h?.close());

  const decisionsOf = async (user: StaffLogin): Promise<DecisionView[]> => {
    const res = await h.t.inject({ method: 'GET', url: `/admin/risk/decisions?action=login&subject=${encodeURIComponent(`staff:${user.id}`)}&limit=100`, headers: bearer(owner) });
    expect(res.statusCode, res.body).toBe(200);
    return (res.json() as { data: DecisionView[] }).data;
  };
  const signIn = async (page: Page, user: StaffLogin) => {
    await page.goto(`${h.baseUrl}/admin/`);
    await page.fill('input[name=email]', user.email);
    await page.fill('input[name=password]', user.password);
    await page.click('button[type=submit]');
  };

  it('solves the captcha for the password and the code steps, gets in, and the gate saw its device id', async () => {
    const user = await h.staff('owner');
    const page = await h.newPage();
    const captchaFetches: number[] = [];
    page.on('response', (r) => void (r.url().endsWith('/risk/captcha') && captchaFetches.push(r.status())));
    await signIn(page, user);
    await page.waitForSelector('input[name=otp]', { timeout: 30_000 });
    await page.fill('input[name=otp]', authenticator.generate(user.totpSecret));
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=nav]', { timeout: 30_000 });
    expect(captchaFetches).toEqual([200, 200]);
    const device = await page.evaluate(() => localStorage.getItem('kq.admin.device'));
    expect(device).toMatch(/^[0-9a-f-]{36}$/);

    const decisions = await decisionsOf(user);
    // Newest first: each step was challenged without a captcha, then allowed with one that passed.
    expect(decisions.map((d) => [d.decision, d.device, d.reasons.some((r) => (r as { captcha?: string }).captcha === 'passed')])).toEqual([
      ['allow', device, true],
      ['challenge', device, false],
      ['allow', device, true],
      ['challenge', device, false],
    ]);
    // The signals arrived and were kept with the device.
    const rows = await h.t.platform.database.executeSql<{ signals: Record<string, unknown> | null }>('select signals from risk_devices where device_id = $1', [device]);
    expect(rows.rows[0]?.signals).toMatchObject({ tz: 'Asia/Shanghai', lang: 'zh-CN', screen: expect.stringMatching(/^\d+x\d+$/), cores: expect.any(Number) });
    expect(h.pageErrors).toEqual([]);
  }, 60_000);

  it('a solution the server refuses shows its message, and the form stays on the password step', async () => {
    const user = await h.staff('support');
    const page = await h.newPage({ language: 'en' });
    // A challenge whose signature was not made by the server: the work is right, the payload is not.
    await page.route('**/risk/captcha', async (route) => {
      const res = await route.fetch();
      const c = (await res.json()) as { signature: string };
      await route.fulfill({ response: res, json: { ...c, signature: c.signature.replace(/^./, (x) => (x === '0' ? '1' : '0')) } });
    });
    await signIn(page, user);
    const error = page.getByTestId('login-error');
    await error.waitFor({ timeout: 30_000 });
    expect(await error.textContent()).toContain('(the captcha sent was invalid)');
    expect(await page.locator('input[name=otp]').count()).toBe(0);
    expect(await page.locator('[data-testid=nav]').count()).toBe(0);
    const decisions = await decisionsOf(user);
    expect(decisions.map((d) => d.decision)).toEqual(['challenge', 'challenge']);
  }, 60_000);
});
