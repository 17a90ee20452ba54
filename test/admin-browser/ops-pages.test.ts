import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { bearer } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { chromiumAvailable, startAdminHarness, type AdminHarness } from './harness.js';

/**
 * Every operational page (and each of its tabs) opens on a seeded business
 * without an error from the server, which proves each list asks with the
 * query its route accepts; the main pages are saved to docs/screenshots/.
 */
const pages: { hash: string; shot?: string; tabs?: string[] }[] = [
  { hash: '/products', shot: 'products', tabs: ['levels', 'suppliers'] },
  { hash: '/vault?tab=batches', shot: 'vault-batches', tabs: ['import', 'codes', 'exports'] },
  { hash: '/stock', shot: 'stock' },
  { hash: '/suppliers', shot: 'suppliers', tabs: ['orders', 'catalog'] },
  { hash: '/orders', shot: 'orders' },
  { hash: '/after-sales', shot: 'after-sales' },
  { hash: '/agents', shot: 'agents', tabs: ['list', 'applications', 'rules', 'commissions'] },
  { hash: '/withdrawals', shot: 'withdrawals' },
  { hash: '/marketing', shot: 'marketing', tabs: ['cdk', 'flash', 'group', 'campaigns'] },
  { hash: '/risk', shot: 'risk', tabs: ['shadow', 'backtest', 'reviews', 'lists', 'alerts', 'staff'] },
  { hash: '/tracing' },
  { hash: '/audit', shot: 'audit' },
  { hash: '/system', shot: 'system', tabs: ['roles', 'keys', 'webhooks'] },
  { hash: '/settings', shot: 'settings' },
];

describe.skipIf(!chromiumAvailable)('every operational page opens cleanly', () => {
  let h: AdminHarness;
  let page: Page;
  let orderId: string;
  let soldSecret: string;

  beforeAll(async () => {
    h = await startAdminHarness();
    const owner = (await h.t.loginAs('owner')).token;
    const as = (method: 'POST' | 'PUT', url: string, payload: object) => h.t.inject({ method, url, headers: bearer(owner), payload });
    // A small business: two SKUs with stock, an agent tree that bought, a withdrawal, a rule, a campaign.
    const sku = await createCodeSku(h.t, { name: 'Tmall ¥100 card', retailPriceFen: 9_800 });
    await createCodeSku(h.t, { name: 'JD ¥50 card', retailPriceFen: 4_900 });
    await stockCodes(h.t, sku, 30);
    const distributor = await h.t.services.agents.create({ name: 'East distributor', role: 'distributor' });
    const sub = await h.t.services.agents.create({ name: 'Shanghai sub-agent', role: 'sub_agent', parentId: distributor.id });
    const leader = await h.t.services.agents.create({ name: 'Leader Wang', role: 'group_leader', parentId: sub.id });
    await as('POST', '/admin/balances/credit', { buyer_type: 'agent', buyer_id: leader.id, amount_fen: 100_000, reference: 'bank transfer' });
    const key = (await as('POST', '/admin/api-keys', { owner_type: 'agent', owner_id: leader.id, name: 'shop bot' })).json() as { id: string; secret: string };
    for (const n of [1, 2, 3]) {
      const raw = JSON.stringify({ sku_id: sku, quantity: n, payment: 'balance' });
      const res = await h.t.inject({ method: 'POST', url: '/open/v1/orders', payload: raw, headers: { 'content-type': 'application/json', 'idempotency-key': `ops-pages-${n}`, ...signedHeaders(key.id, key.secret, 'POST', '/open/v1/orders', raw) } });
      expect(res.statusCode).toBe(201);
      const body = res.json() as { order: { id: string }; codes: { secret: string }[] };
      orderId = body.order.id;
      soldSecret = body.codes[0]!.secret;
    }
    await h.t.platform.db.transaction((tx) =>
      h.t.services.ledger.post(tx, { kind: 'commission_settled', refType: 'test', refId: leader.id, postings: [{ account: accounts.commissionExpense, amountFen: -80_000 }, { account: accounts.commissionAvailable(leader.id), amountFen: 80_000 }] }),
    );
    await h.t.services.withdrawals.request({ agentId: leader.id, amountFen: 50_000, method: 'bank_transfer', payoutAccount: '6222021234567890123', idempotencyKey: 'ops-pages-wd' });
    expect((await as('POST', '/admin/risk/rules', { name: 'Burst from one account', action: 'review', mode: 'shadow', condition: { field: 'velocity.account_1h', op: 'gte', value: 10 }, applies_to: ['order'] })).statusCode).toBe(201);
    expect((await as('POST', '/admin/risk/lists', { type: 'ip', value: '203.0.113.9', reason: 'card testing' })).statusCode).toBe(201);
    expect((await as('POST', '/admin/marketing/campaigns', { name: 'Double 11', kind: 'general', budget_fen: 500_000 })).statusCode).toBe(201);
    page = await h.newPage();
    await h.login(page);
    // The assertions below read the English texts; the harness takes the screenshots in `screenshotLanguage`.
    await page.selectOption('[data-testid=locale-switch]', 'en');
    await page.waitForSelector('[data-testid=nav] >> text=Withdrawals');
  }, 90_000);
  afterAll(() => h?.close());

  const open = async (hash: string) => {
    await page.evaluate((target) => {
      location.hash = target;
    }, hash);
    await page.waitForSelector('.page-head h1');
    // Lists have settled: no "loading" left in any table footer.
    await page.waitForFunction(() => ![...document.querySelectorAll('.table-foot')].some((f) => /Loading/.test(f.textContent ?? '')));
  };
  const alerts = () => page.locator('.page [role=alert]').allTextContents();

  for (const p of pages) {
    it(`${p.hash} and its tabs show no server error`, async () => {
      await open(p.hash);
      expect(await alerts()).toEqual([]);
      if (p.shot) await h.screenshot(page, p.shot);
      for (const tab of p.tabs ?? []) {
        await open(`${p.hash.split('?')[0]}?tab=${tab}`);
        expect({ tab, alerts: await alerts() }).toEqual({ tab, alerts: [] });
      }
    }, 30_000);
  }

  it('an order opens on its own page; the audit chain verifies', async () => {
    await open('/orders');
    await page.fill('input[name=order_id]', orderId);
    await page.press('input[name=order_id]', 'Enter');
    await page.getByTestId('order-detail').waitFor();
    expect(await page.getByTestId('order-detail').textContent()).toContain(orderId);
    await h.screenshot(page, 'order-detail');
    // Refund one unit back to the agent's balance; the first try shows the server's refusal in the form.
    await page.getByTestId('order-detail').getByRole('button', { name: 'Refund' }).click();
    const form = page.getByRole('dialog');
    await form.locator('textarea[name=reason]').fill('customer changed mind');
    await form.locator('input[name=quantity]').fill('1');
    await form.locator('select[name=to]').selectOption('balance');
    await form.locator('button[type=submit]').click();
    // The buyer has seen these codes (the API returned them): only an after-sales refund may void them.
    await expect.poll(() => form.getByTestId('form-error').textContent()).toMatch(/after-sales/);
    await form.locator('select[name=after_sales]').selectOption('true');
    await form.locator('button[type=submit]').click();
    await form.waitFor({ state: 'detached' });
    await expect.poll(async () => (await page.getByTestId('order-detail').locator('.badge').textContent()) ?? '').toMatch(/refunded/);
    const refunded = await h.t.platform.database.executeSql<{ refunded_fen: number; unit_price_fen: number }>('select refunded_fen, unit_price_fen from orders where id = $1', [orderId]);
    expect(Number(refunded.rows[0]!.refunded_fen)).toBe(Number(refunded.rows[0]!.unit_price_fen));
    await open('/audit');
    await page.getByTestId('audit-verify').getByRole('button').click();
    await expect.poll(() => page.getByTestId('audit-verify').locator('.ok-text').count()).toBe(1);
    await open('/agents?tab=tree');
    expect(await page.getByTestId('agent-tree').locator('li').count()).toBe(3);
    await h.screenshot(page, 'agents-tree');
  }, 30_000);

  it('screens of an import with a refused line and of a traced code', async () => {
    await open('/vault?tab=import');
    await page.fill('input[name=supplier]', 'acme');
    await page.fill('input[name=unit_cost_fen]', '88');
    await page.fill('textarea[name=text]', ['SHOT-0001', 'SHOT-0002', 'x', 'SHOT-0004', 'SHOT-0002'].join('\n'));
    await page.click('form button[type=submit]');
    await page.waitForSelector('[data-testid=import-progress][data-done=true]');
    expect(await page.locator('[data-testid=import-rejections] tbody tr').allTextContents()).toEqual(['3secret is shorter than 4 characters', '5duplicate: appears earlier in this file']);
    await h.screenshot(page, 'vault-import');
    await open('/tracing');
    await page.fill('textarea[name=codes]', soldSecret);
    await page.click('form button[type=submit]');
    await expect.poll(() => page.getByTestId('trace-agent').count()).toBe(3);
    await h.screenshot(page, 'tracing');
  }, 30_000);

  it('edits a SKU\'s agent price list and retail price; a malformed line is refused beside its field', async () => {
    await open('/products');
    await page.locator('tr', { hasText: 'Tmall ¥100 card' }).getByRole('button', { name: 'SKUs' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Edit' }).click();
    const form = page.getByRole('dialog').last();
    await form.locator('input[name=retail_price_fen]').fill('97.5');
    await form.locator('textarea[name=agent_prices]').fill('1 95\nlevel two 93');
    await form.locator('button[type=submit]').click();
    await expect.poll(() => form.locator('[data-field-error=agent_prices]').count()).toBe(1);
    await form.locator('textarea[name=agent_prices]').fill('1 95\n2 93.5');
    await form.locator('button[type=submit]').click();
    await expect.poll(() => page.getByRole('dialog').count()).toBe(1);
    const product = (await h.t.services.catalog.listProducts({ limit: 10 })).data.find((p) => p.name === 'Tmall ¥100 card')!;
    expect(product.skus[0]).toMatchObject({ retail_price_fen: 9_750, agent_prices: { '1': 9_500, '2': 9_350 } });
  }, 30_000);

  it('a read-only role sees the lists without the buttons that would change them', async () => {
    const viewer = await h.newPage();
    await h.login(viewer, 'readonly');
    const nav = await viewer.getByTestId('nav').locator('a').evaluateAll((links) => links.map((a) => a.getAttribute('data-path')));
    expect(nav).toEqual(expect.arrayContaining(['/products', '/vault', '/orders', '/agents', '/marketing']));
    for (const hidden of ['/withdrawals', '/risk', '/tracing', '/audit']) expect(nav).not.toContain(hidden);
    await viewer.evaluate(() => {
      location.hash = '/products';
    });
    await viewer.locator('tr', { hasText: 'Tmall ¥100 card' }).waitFor();
    expect(await viewer.getByRole('button', { name: '新建商品' }).count()).toBe(0);
    expect(await viewer.getByRole('tab').allTextContents()).toEqual(['商品', '等级价规则', 'SKU 供应商']);
    await viewer.evaluate(() => {
      location.hash = '/vault';
    });
    // no import tab without vault:import: the first tab is the batches list
    await viewer.locator('.tab.active').waitFor();
    expect(await viewer.locator('.tab.active').textContent()).toBe('批次');
    await viewer.close();
  }, 30_000);

  it('raised no uncaught page errors', () => {
    expect(h.pageErrors).toEqual([]);
  });
});
