import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { createCodeSku } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { chromiumAvailable, startAdminHarness, type AdminHarness } from './harness.js';

/**
 * The customer and offline-redemption pages in headless Chromium: a customer
 * is listed with a masked phone (the full number is nowhere on the page) and
 * its detail shows the identities and the referral binding; an operator sets
 * up merchant -> store -> staff, and the staff key's secret is shown once and
 * works for a signed call.
 */
describe.skipIf(!chromiumAvailable)('admin customers and redemption pages in a browser', () => {
  let h: AdminHarness;
  let page: Page;

  beforeAll(async () => {
    h = await startAdminHarness();
    page = await h.newPage();
    await h.login(page);
  }, 60_000);
  afterAll(() => h?.close());

  const open = async (hash: string) => {
    await page.evaluate((target) => {
      location.hash = target;
    }, hash);
    await page.waitForSelector('.page-head h1');
  };

  it('lists a customer with a masked phone; the detail shows identities and the binding', async () => {
    const phone = '13812345678';
    const { customerId } = await h.t.services.customers.resolve({ identity: { provider: 'telegram', externalId: 'tg-ops-more-1' }, displayName: 'Wang Xiaoming' });
    await h.t.services.customers.setPhone(customerId, phone);
    const agent = await h.t.services.agents.create({ name: 'Leader Zhao', role: 'group_leader' });
    await h.t.services.agents.bindCustomer(customerId, agent.referral_code, 'link');

    await open('/customers');
    const row = page.locator('tr', { hasText: customerId });
    await expect.poll(() => row.count()).toBe(1);
    const cells = await row.locator('td').allTextContents();
    expect(cells.slice(0, 5)).toEqual([customerId, 'Wang Xiaoming', '138****5678', 'telegram', 'zh-CN']);
    expect(await page.content()).not.toContain(phone);
    await h.screenshot(page, 'customers');

    await page.getByTestId(`customer-detail-${customerId}`).click();
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.getByTestId('customer-binding').textContent()).toContain(`Leader Zhao (${agent.id})`);
    expect(await dialog.getByTestId('customer-detail').textContent()).toContain('tg-ops-more-1');
    expect(await dialog.textContent()).not.toContain(phone);
    await dialog.getByRole('button', { name: '关闭' }).click();

    // The id look-up opens the same detail; a malformed id is refused before any call.
    await page.fill('input[name=customer_id]', 'cus_nope');
    await page.locator('form.toolbar button[type=submit]').first().click();
    await expect.poll(() => page.locator('form.toolbar .error').count()).toBe(1);
    await page.fill('input[name=customer_id]', customerId);
    await page.locator('form.toolbar button[type=submit]').first().click();
    await expect.poll(() => page.getByRole('dialog').getByTestId('customer-binding').textContent()).toContain('Leader Zhao');
    await page.getByRole('dialog').getByRole('button', { name: '关闭' }).click();
  }, 60_000);

  it('creates a merchant, a store and a staff member; the staff key secret is shown once and signs calls', async () => {
    const skuId = await createCodeSku(h.t, { name: 'Store card' });
    const merchantName = `Coffee House ${Date.now().toString(36)}`; // unique on a shared real database
    const productId = (await h.t.services.catalog.getSku(skuId)).productId;

    await open('/redemption');
    await page.getByTestId('new-merchant').click();
    let dialog = page.getByRole('dialog');
    await dialog.locator('input[name=name]').fill(merchantName);
    await dialog.locator(`input[name=product_ids][value=${productId}]`).check();
    await dialog.locator('button[type=submit]').click();
    await dialog.waitFor({ state: 'detached' });
    const merchant = (await h.t.services.redemptions.listMerchants({ limit: 10 })).data.find((m) => m.name === merchantName);
    expect(merchant?.product_ids).toEqual([productId]);
    const mRow = page.locator('tr', { hasText: merchant!.id });
    await expect.poll(() => mRow.count()).toBe(1);

    await page.getByTestId(`new-store-${merchant!.id}`).click();
    dialog = page.getByRole('dialog');
    await dialog.locator('input[name=name]').fill('Coffee House Xuhui');
    await dialog.locator('input[name=address]').fill('Shanghai, Xuhui Rd 1');
    await dialog.locator('button[type=submit]').click();
    await dialog.waitFor({ state: 'detached' });
    // The new store's merchant opens the stores tab filtered to it.
    const sRow = page.locator('tr', { hasText: 'Coffee House Xuhui' });
    await expect.poll(() => sRow.count()).toBe(1);
    const storeId = (await sRow.locator('td').first().textContent())!;
    expect(storeId).toMatch(/^sto_/);

    await page.getByTestId(`add-staff-${storeId}`).click();
    dialog = page.getByRole('dialog');
    await dialog.locator('input[name=name]').fill('Clerk Li');
    await dialog.locator('button[type=submit]').click();
    await dialog.waitFor({ state: 'detached' });
    const card = page.getByTestId('staff-secret');
    await expect.poll(() => card.locator('code').count()).toBe(1);
    const keyId = (await card.locator('dd').first().textContent())!;
    const secret = (await card.locator('code').textContent())!;
    expect(secret.length).toBeGreaterThanOrEqual(32);
    await h.screenshot(page, 'redemption');

    // The shown secret is the real one: it signs a store-staff call.
    const signed = await h.t.inject({ method: 'GET', url: '/open/v1/redemptions', headers: signedHeaders(keyId, secret, 'GET', '/open/v1/redemptions', '') });
    expect(signed.statusCode).toBe(200);
    expect(signed.json()).toEqual({ data: [], has_more: false, next_cursor: null });

    // The staff list names the key, never its secret; leaving the tab forgets the secret.
    await page.getByTestId(`staff-of-${storeId}`).click();
    dialog = page.getByRole('dialog');
    const staffRow = dialog.locator('tr', { hasText: 'Clerk Li' });
    await expect.poll(() => staffRow.count()).toBe(1);
    expect(await staffRow.textContent()).toContain(keyId);
    expect(await dialog.textContent()).not.toContain(secret);
    await dialog.getByRole('button', { name: '关闭' }).click();
    await page.getByRole('tab', { name: '商户', exact: true }).click();
    await page.getByRole('tab', { name: '门店', exact: true }).click();
    await expect.poll(() => page.locator('tr', { hasText: 'Coffee House Xuhui' }).count()).toBe(1);
    expect(await page.content()).not.toContain(secret);

    // The store report answers for the new store: nothing redeemed yet.
    await page.getByRole('tab', { name: '门店报表' }).click();
    await page.fill('input[name=store_id]', storeId);
    await page.locator('.tab-body form button[type=submit]').click();
    const report = page.getByTestId('redemption-report');
    await expect.poll(() => report.locator('tbody td.empty').count()).toBe(1);
    expect(await report.locator('dd').nth(2).textContent()).toBe('0');
  }, 60_000);

  it('lists the pages by permission: support sees customers but not redemption, operations sees both', async () => {
    const navOf = async (role: 'support' | 'operations') => {
      const p = await h.newPage();
      await h.login(p, role);
      const nav = await p.getByTestId('nav').locator('a').evaluateAll((links) => links.map((a) => a.getAttribute('data-path')));
      await p.close();
      return nav;
    };
    const support = await navOf('support');
    expect(support).toContain('/customers');
    expect(support).not.toContain('/redemption');
    expect(await navOf('operations')).toEqual(expect.arrayContaining(['/customers', '/redemption']));
  }, 30_000);

  it('raised no uncaught page errors', () => {
    expect(h.pageErrors).toEqual([]);
  });
});
