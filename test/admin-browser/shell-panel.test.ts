import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { authenticator } from 'otplib';
import { bearer } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { chromiumAvailable, screenshotLanguage, startAdminHarness, type AdminHarness } from './harness.js';
import { INITIAL_JS_BUDGET_BYTES, initialJs } from '../../admin/scripts/build.js';

describe.skipIf(!chromiumAvailable)('admin panel shell in headless chromium', () => {
  let h: AdminHarness;
  let page: Page;
  beforeAll(async () => {
    h = await startAdminHarness();
  });
  afterAll(() => h?.close());

  /** An agent with a balance buys one code through the signed open API, as a partner system would. */
  async function placeOrder(sku: string): Promise<{ id: string; total_fen: number }> {
    const owner = await h.t.loginAs('owner');
    const agent = await h.t.services.agents.create({ name: 'Browser test agent', role: 'group_leader' });
    await h.t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(owner.token), payload: { buyer_type: 'agent', buyer_id: agent.id, amount_fen: 100_000, reference: 'browser test' } });
    const key = (await h.t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner.token), payload: { owner_type: 'agent', owner_id: agent.id, name: 'bot' } })).json() as { id: string; secret: string };
    const raw = JSON.stringify({ sku_id: sku, quantity: 1, payment: 'balance' });
    const res = await h.t.inject({
      method: 'POST',
      url: '/open/v1/orders',
      payload: raw,
      headers: { 'content-type': 'application/json', 'idempotency-key': `browser-${Date.now()}`, ...signedHeaders(key.id, key.secret, 'POST', '/open/v1/orders', raw, new Date()) },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().order as { id: string; total_fen: number };
  }

  it('signs in with the password, then asks for the second factor and refuses a wrong code', async () => {
    const shot = await h.newPage({ language: screenshotLanguage });
    await shot.goto(`${h.baseUrl}/admin/`);
    await shot.waitForSelector('[data-testid=login-form]');
    await h.screenshot(shot, 'login');

    page = await h.newPage();
    await page.goto(`${h.baseUrl}/admin/`);
    await page.waitForSelector('[data-testid=login-form]');
    expect(await page.textContent('h1')).toBe('登录管理后台');
    await page.fill('input[name=email]', h.owner.email);
    await page.fill('input[name=password]', h.owner.password);
    await page.click('button[type=submit]');
    // The password alone is not enough: the form now asks for the authenticator code.
    await page.waitForSelector('input[name=otp]');
    expect(await page.locator('[data-testid=nav]').count()).toBe(0);
    const right = authenticator.generate(h.owner.totpSecret);
    await page.fill('input[name=otp]', right === '000000' ? '111111' : '000000');
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=login-error]');
    expect(await page.locator('[data-testid=nav]').count()).toBe(0);
    await page.fill('input[name=otp]', authenticator.generate(h.owner.totpSecret));
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=nav]');
    expect(await page.textContent('[data-testid=user]')).toContain('owner');
    // An owner lands on the dashboard.
    await page.waitForSelector('[data-testid=kpi-orders]');
    expect(new URL(page.url()).hash).toBe('#/dashboard');
  });

  it('switching to English changes the navigation (and the choice survives a reload)', async () => {
    const before = await page.textContent('[data-testid=nav]');
    expect(before).toContain('仪表盘');
    await page.selectOption('[data-testid=locale-switch]', 'en');
    await page.waitForFunction(() => document.querySelector('[data-testid=nav]')?.textContent?.includes('Dashboard'));
    const after = await page.textContent('[data-testid=nav]');
    expect(after).toContain('Reports');
    expect(after).not.toContain('仪表盘');
    await page.reload();
    await page.waitForSelector('[data-testid=nav]');
    expect(await page.textContent('[data-testid=nav]')).toContain('Dashboard');
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    // The rest of the file (and its screenshots) in a language this machine can render.
    await page.selectOption('[data-testid=locale-switch]', screenshotLanguage);
  });

  it('shows a new order live on the dashboard, without a reload', async () => {
    const sku = await createCodeSku(h.t, { name: 'Live test card', retailPriceFen: 4_200, costFen: 3_000 });
    await stockCodes(h.t, sku, 3);
    await page.waitForSelector('[data-testid=live-status][data-status=open]');
    await page.waitForFunction(() => document.querySelector('[data-testid=kpi-orders] .value')?.textContent === '0');
    await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
    const order = await placeOrder(sku);
    const item = page.locator(`[data-testid=feed-item][data-order-id="${order.id}"]`).first();
    await item.waitFor({ timeout: 10_000 });
    // The feed names the SKU (createCodeSku's is "¥100") and shows what was paid.
    expect(await item.textContent()).toContain('¥100 × 1');
    expect(await item.textContent()).toContain('¥42.00');
    await page.waitForFunction(() => document.querySelector('[data-testid=kpi-orders] .value')?.textContent === '1');
    expect(await page.textContent('[data-testid=kpi-gmv] .value')).toBe('¥42.00');
    // Gross profit is not in the order event: the page fetches the figures again a moment after it (well before the next 10 s snapshot).
    await page.waitForFunction(() => document.querySelector('[data-testid=kpi-profit] .value')?.textContent === '¥12.00', undefined, { timeout: 5_000 });
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    await page.waitForSelector('[data-testid=chart] canvas');
    await h.screenshot(page, 'dashboard');
  });

  it('reconnects when the server drops the socket, and keeps showing orders', async () => {
    const sku = await createCodeSku(h.t, { name: 'Reconnect card', retailPriceFen: 1_500, costFen: 1_000 });
    await stockCodes(h.t, sku, 1);
    const wss = (h.t.app as unknown as { websocketServer: { clients: Set<{ terminate(): void }> } }).websocketServer;
    expect(wss.clients.size).toBe(1);
    for (const client of wss.clients) client.terminate();
    await page.waitForSelector('[data-testid=live-status][data-status=reconnecting]');
    await page.waitForSelector('[data-testid=live-status][data-status=open]');
    const order = await placeOrder(sku);
    await page.locator(`[data-testid=feed-item][data-order-id="${order.id}"]`).first().waitFor({ timeout: 10_000 });
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
  });

  it('reports: sales by product with its daily chart', async () => {
    await page.click('[data-testid=nav] a[data-path="/reports"]');
    await page.waitForSelector('[data-testid=sales-table]');
    await page.waitForSelector('[data-testid=chart] canvas');
    const row = page.locator('[data-testid=sales-table] tbody tr', { hasText: 'Live test card' });
    await row.waitFor();
    const cells = (await row.locator('td').allTextContents()).map((s) => s.trim());
    // name, orders, units, GMV, refunds, cost, gross profit, margin
    expect(cells).toEqual(['Live test card', '1', '1', '¥42.00', '¥0.00', '¥30.00', '¥12.00', '28.6%']);
    await h.screenshot(page, 'reports');
    await page.click('[data-testid=report-tabs] a[data-tab=forecast]');
    await page.waitForSelector('[data-testid=forecast-table]');
  });

  it('exports a server-paginated table as CSV and XLSX (all pages, with progress)', async () => {
    // 23 campaigns: more than one page of the table (20), so the export must follow next_cursor.
    for (let i = 1; i <= 23; i++) await h.t.services.campaigns.create({ name: `Spring sale ${String(i).padStart(2, '0')}`, kind: 'general' }, { id: h.owner.id });
    await page.click('[data-testid=report-tabs] a[data-tab=campaigns]');
    await page.locator('.datatable tbody tr', { hasText: 'Spring sale 23' }).waitFor();
    expect(await page.locator('.datatable tbody tr').count()).toBe(20);
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('.datatable .toolbar-right button:nth-child(1)')]);
    const text = readFileSync((await csv.path())!, 'utf8');
    const lines = text.trim().split('\r\n');
    expect(lines).toHaveLength(24);
    expect(lines.filter((l) => l.includes('Spring sale')).map((l) => /Spring sale \d+/.exec(l)![0]).sort()).toEqual(Array.from({ length: 23 }, (_, i) => `Spring sale ${String(i + 1).padStart(2, '0')}`));
    await page.waitForSelector('[data-testid=progress]');
    const [xlsx] = await Promise.all([page.waitForEvent('download'), page.click('.datatable .toolbar-right button:nth-child(2)')]);
    expect(xlsx.suggestedFilename()).toBe('campaign-roi.xlsx');
    const bytes = readFileSync((await xlsx.path())!);
    expect(bytes.subarray(0, 2).toString()).toBe('PK'); // a zip: the OOXML container
    expect(bytes.length).toBeGreaterThan(3000);
  });

  it('a support user sees no finance, risk or analytics pages, and a forbidden URL says why', async () => {
    const support = await h.newPage();
    await h.login(support, 'support');
    const paths = await support.locator('[data-testid=nav] a').evaluateAll((links) => links.map((a) => a.getAttribute('data-path')));
    expect(paths).toContain('/account');
    for (const hidden of ['/dashboard', '/reports', '/withdrawals', '/risk', '/audit']) expect(paths, hidden).not.toContain(hidden);
    await support.goto(`${h.baseUrl}/admin/#/reports`);
    const refusal = support.locator('[data-testid=forbidden]');
    await refusal.waitFor();
    expect(await refusal.textContent()).toContain('analytics:read');
    expect(await refusal.textContent()).toContain('support');
  });

  it('keeps the initial JavaScript under the 150 KB gzip budget, with no uncaught page errors', () => {
    const size = initialJs();
    console.log(`[admin] initial JS ${(size.bytes / 1024).toFixed(1)} KB, ${(size.gzipBytes / 1024).toFixed(1)} KB gzip (${size.files.join(', ')})`);
    expect(size.gzipBytes).toBeLessThan(INITIAL_JS_BUDGET_BYTES);
    expect(h.pageErrors).toEqual([]);
  });
});
