/**
 * Browser-test harness for the admin panel: builds admin/ when stale, boots
 * the app on a real port, creates staff with the second factor enrolled,
 * drives Debian's chromium headless through playwright-core.
 *
 *   const h = await startAdminHarness();
 *   const page = await h.newPage();
 *   await h.login(page);            // owner: password, then TOTP code
 *   await h.screenshot(page, 'dashboard');
 *   await h.close();
 *
 * Files using it wrap their tests in `describe.skipIf(!chromiumAvailable)`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { authenticator } from 'otplib';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { bootTestApp, TEST_PASSWORD, type TestApp } from '../helpers/boot.js';
import type { Role } from '../../src/modules/auth/permissions.js';
import { isStale } from '../../admin/scripts/build.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const screenshotDir = join(repoRoot, 'docs', 'screenshots');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumAvailable = existsSync(CHROMIUM);
/** Chinese text renders as boxes without a CJK font (Debian: fonts-noto-cjk or fonts-wqy-microhei). */
export const hasCjkFont = (() => {
  try {
    return execFileSync('fc-list', [':lang=zh'], { encoding: 'utf8' }).trim().length > 0;
  } catch {
    return false;
  }
})();
/** The language for screenshots that people will read. */
export const screenshotLanguage: 'zh-CN' | 'en' = hasCjkFont ? 'zh-CN' : 'en';
if (!chromiumAvailable) console.warn(`[admin-browser] SKIPPED: no chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);

/** Builds admin/dist when it is missing or older than admin/src; two test workers asking at once build it once. */
export function ensureAdminBuilt(): void {
  if (!isStale()) return;
  const build = ['npx', 'tsx', 'admin/scripts/build.ts', '--if-stale'];
  const [cmd, ...args] = existsSync('/usr/bin/flock') ? ['/usr/bin/flock', '/tmp/kq-admin-build.lock', ...build] : build;
  try {
    execFileSync(cmd!, args, { cwd: repoRoot, stdio: 'pipe', timeout: 180_000 });
  } catch (e) {
    const out = e as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`admin panel build failed:\n${out.stdout?.toString() ?? ''}${out.stderr?.toString() ?? ''}`);
  }
}

export interface StaffLogin {
  id: string;
  role: Role;
  email: string;
  password: string;
  totpSecret: string;
}

export interface AdminHarness {
  t: TestApp;
  baseUrl: string;
  browser: Browser;
  /** An owner with the second factor enrolled. */
  owner: StaffLogin;
  /** Uncaught errors of every page opened through `newPage` (a test can assert none happened). */
  pageErrors: string[];
  /** A staff account of `role` with TEST_PASSWORD and the second factor enrolled. */
  staff(role: Role): Promise<StaffLogin>;
  /**
   * A page in a fresh browser context (its own cookies), 1280x800. `language`
   * presets the panel's language (default: the panel's own, zh-CN); use 'en'
   * for screenshots where no CJK font is installed (see `hasCjkFont`).
   */
  newPage(opts?: { language?: 'zh-CN' | 'en' }): Promise<Page>;
  /** Signs in through the login form: password, then the TOTP code; waits for the navigation. */
  login(page: Page, who?: Role | StaffLogin): Promise<StaffLogin>;
  /**
   * Saves docs/screenshots/<name>.png and returns its path. The shot is taken
   * in `screenshotLanguage` (switched with the panel's own language control
   * and switched back after), so a test may assert in whichever language it likes.
   */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

let seq = 0;

/** Switches the panel's language in place (no reload, so the page keeps its state) and waits for the re-render. */
async function switchLanguage(page: Page, language: string): Promise<void> {
  await page.locator('[data-testid=locale-switch]').first().selectOption(language);
  await page.waitForFunction((lang) => document.documentElement.lang === lang, language);
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
}

export async function startAdminHarness(opts: { env?: Record<string, string> } = {}): Promise<AdminHarness> {
  ensureAdminBuilt();
  const t = await bootTestApp({ env: opts.env });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const address = t.app.server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  const staff = async (role: Role): Promise<StaffLogin> => {
    const email = `${role}-${++seq}-${Date.now().toString(36)}@admin.test`;
    const user = await t.services.auth.createStaff({ email, name: `${role} ${seq}`, role, password: TEST_PASSWORD }, null);
    const { secret } = await t.services.auth.beginTotp(user.id);
    await t.services.auth.confirmTotp(user.id, authenticator.generate(secret), { ip: '127.0.0.1' });
    return { id: user.id, role, email, password: TEST_PASSWORD, totpSecret: secret };
  };
  const owner = await staff('owner');

  return {
    t,
    baseUrl,
    browser,
    owner,
    pageErrors,
    staff,
    async newPage(o = {}) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: o.language ?? 'zh-CN', timezoneId: 'Asia/Shanghai' });
      contexts.push(context);
      if (o.language) await context.addInitScript((lang) => localStorage.getItem('kq.admin.locale') ?? localStorage.setItem('kq.admin.locale', lang), o.language);
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
      return page;
    },
    async login(page, who = 'owner') {
      const user = typeof who === 'string' ? (who === 'owner' ? owner : await staff(who)) : who;
      await page.goto(`${baseUrl}/admin/`);
      await page.fill('input[name=email]', user.email);
      await page.fill('input[name=password]', user.password);
      await page.click('button[type=submit]');
      await page.waitForSelector('input[name=otp]');
      await page.fill('input[name=otp]', authenticator.generate(user.totpSecret));
      await page.click('button[type=submit]');
      await page.waitForSelector('[data-testid=nav]');
      return user;
    },
    async screenshot(page, name) {
      mkdirSync(screenshotDir, { recursive: true });
      const path = join(screenshotDir, `${name}.png`);
      const shown = await page.getAttribute('html', 'lang');
      const swap = shown !== screenshotLanguage && (await page.locator('[data-testid=locale-switch]').count()) > 0;
      if (swap) await switchLanguage(page, screenshotLanguage);
      await page.screenshot({ path, fullPage: true });
      if (swap && shown) await switchLanguage(page, shown);
      return path;
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => {});
      await browser.close();
      await t.close();
    },
  };
}
