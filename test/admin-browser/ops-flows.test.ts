import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { bearer } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { chromiumAvailable, startAdminHarness, type AdminHarness } from './harness.js';

/**
 * The operational pages in real headless Chromium: a code import streams its
 * progress to done and lists the bad line; finance approves a withdrawal; a
 * risk rule is switched to shadow mode; a leaked code is traced to its order
 * and agent chain.
 */
describe.skipIf(!chromiumAvailable)('admin operational pages in a browser', () => {
  let h: AdminHarness;
  let page: Page;
  let owner: string;

  beforeAll(async () => {
    h = await startAdminHarness();
    owner = (await h.t.loginAs('owner')).token;
    page = await h.newPage();
    await h.login(page);
  }, 60_000);
  afterAll(() => h?.close());

  // A hash change is a same-document navigation (no load event): set it and wait for the page's heading.
  const open = async (hash: string) => {
    await page.evaluate((target) => {
      location.hash = target;
    }, hash);
    await page.waitForSelector('.page-head h1');
  };

  it('imports a file of codes, showing progress until done and the rejected line with its reason', async () => {
    const skuId = await createCodeSku(h.t, { name: 'Import card' });
    const lines = 12_000;
    const badLine = 7_777;
    const text = Array.from({ length: lines }, (_v, i) => (i + 1 === badLine ? 'ab' : `IMPORT-${String(i).padStart(6, '0')}`)).join('\n');
    await open('/vault?tab=import');
    await page.selectOption('select[name=sku_id]', skuId);
    await page.fill('input[name=supplier]', 'acme');
    await page.fill('input[name=unit_cost_fen]', '88');
    // A file, as operators import big lots (typing 12,000 lines into a textarea is not what a browser test should time).
    await page.setInputFiles('input[type=file]', { name: 'codes.txt', mimeType: 'text/plain', buffer: Buffer.from(text) });
    // Record every value the progress bar shows, from the first to the last.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { progressSeen: string[] }).progressSeen = seen;
      new MutationObserver(() => {
        const bar = document.querySelector('[data-testid=import-progress] [role=progressbar]');
        const v = bar?.getAttribute('aria-valuenow');
        if (v && seen.at(-1) !== v) seen.push(v);
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await page.click('form button[type=submit]');
    await page.waitForSelector('[data-testid=import-progress][data-done=true]', { timeout: 30_000 });
    const seen = (await page.evaluate(() => (window as unknown as { progressSeen: string[] }).progressSeen)).map(Number);
    // Intermediate values were drawn (one per written chunk of 2,000 rows), rising to every line.
    expect(seen.some((v) => v > 0 && v < lines)).toBe(true);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen.at(-1)).toBe(lines);
    const result = page.locator('[data-testid=import-result]');
    await expect.poll(() => result.locator('.badge').first().textContent()).toBe('completed');
    const rejection = await page.locator('[data-testid=import-rejections] tbody tr').allTextContents();
    expect(rejection).toEqual([`${badLine}secret is shorter than 4 characters`]);
    const stored = await h.t.platform.database.executeSql<{ n: number }>('select count(*)::int as n from codes where sku_id = $1', [skuId]);
    expect(stored.rows[0]!.n).toBe(lines - 1);
  }, 60_000);

  it('approves a requested withdrawal after confirming; it then offers the payment step', async () => {
    const agent = await h.t.services.agents.create({ name: 'Withdrawing agent', role: 'group_leader' });
    await h.t.platform.db.transaction((tx) =>
      h.t.services.ledger.post(tx, { kind: 'commission_settled', refType: 'test', refId: agent.id, postings: [{ account: accounts.commissionExpense, amountFen: -50_000 }, { account: accounts.commissionAvailable(agent.id), amountFen: 50_000 }] }),
    );
    const { withdrawal } = await h.t.services.withdrawals.request({ agentId: agent.id, amountFen: 30_000, method: 'bank_transfer', payoutAccount: '6222021234567890123', idempotencyKey: 'ops-browser-wd-1' });
    expect(withdrawal.status).toBe('requested');

    await open('/withdrawals');
    const row = page.locator('tr', { hasText: withdrawal.id });
    await expect.poll(() => row.locator('.badge').first().textContent()).toBe('requested');
    await row.getByRole('button', { name: '通过' }).click();
    await page.getByTestId('confirm-ok').click();
    await expect.poll(() => row.locator('.badge').first().textContent()).toBe('approved');
    expect((await h.t.services.withdrawals.get(withdrawal.id)).status).toBe('approved');
    // approved now offers the payment step, not approval again
    expect(await row.getByRole('button', { name: '通过' }).count()).toBe(0);
    expect(await row.getByRole('button', { name: '登记打款' }).count()).toBe(1);
  }, 30_000);

  it('edits a risk rule into shadow mode; the saved rule is a new version in shadow', async () => {
    const created = await h.t.inject({
      method: 'POST',
      url: '/admin/risk/rules',
      headers: bearer(owner),
      payload: { name: 'Many orders an hour', action: 'review', mode: 'enforce', condition: { field: 'velocity.account_1h', op: 'gte', value: 20 }, applies_to: ['order'] },
    });
    expect(created.statusCode).toBe(201);
    const rule = created.json() as { id: string; version: number };

    await open('/risk?tab=rules');
    await page.getByTestId(`edit-rule-${rule.id}`).click();
    const dialog = page.getByRole('dialog');
    await dialog.locator('select[name=mode]').selectOption('shadow');
    await dialog.locator('textarea[name=condition]').fill('{"field":"velocity.account_1h","op":"gte","value":5}');
    await dialog.locator('button[type=submit]').click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.locator('tr', { hasText: rule.id });
    await expect.poll(() => row.locator('.badge').nth(1).textContent()).toBe('shadow');

    const saved = (await h.t.inject({ method: 'GET', url: `/admin/risk/rules/${rule.id}`, headers: bearer(owner) })).json();
    expect(saved).toMatchObject({ mode: 'shadow', version: rule.version + 1, condition: { field: 'velocity.account_1h', op: 'gte', value: 5 } });
  }, 30_000);

  it('shows the server field error when the condition is not a valid rule', async () => {
    await open('/risk?tab=rules');
    await page.getByRole('button', { name: '新建规则' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.locator('input[name=name]').fill('Broken');
    await dialog.locator('textarea[name=condition]').fill('{"field":"velocity.account_1h","op":"nope","value":5}');
    await dialog.locator('button[type=submit]').click();
    await expect.poll(() => dialog.locator('[data-field-error^=condition]').count()).toBeGreaterThan(0);
    await dialog.getByRole('button', { name: '关闭' }).click();
  }, 30_000);

  it('traces a pasted leaked code to its order and the selling agent chain', async () => {
    const sku = await createCodeSku(h.t, { retailPriceFen: 1_000, name: 'Traced card' });
    await stockCodes(h.t, sku, 4);
    const distributor = await h.t.services.agents.create({ name: 'Distributor Zhang', role: 'distributor' });
    const leader = await h.t.services.agents.create({ name: 'Leader Li', role: 'group_leader', parentId: distributor.id });
    await h.t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(owner), payload: { buyer_type: 'agent', buyer_id: leader.id, amount_fen: 100_000, reference: 'bank transfer' } });
    const key = (await h.t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'agent', owner_id: leader.id, name: 'bot' } })).json() as { id: string; secret: string };
    const raw = JSON.stringify({ sku_id: sku, quantity: 1, payment: 'balance' });
    const bought = await h.t.inject({ method: 'POST', url: '/open/v1/orders', payload: raw, headers: { 'content-type': 'application/json', 'idempotency-key': 'ops-trace-1', ...signedHeaders(key.id, key.secret, 'POST', '/open/v1/orders', raw) } });
    expect(bought.statusCode).toBe(201);
    const order = bought.json() as { order: { id: string }; codes: { secret: string }[] };

    await open('/tracing');
    await page.fill('textarea[name=codes]', `${order.codes[0]!.secret}\nNOT-OURS-9999`);
    await page.click('form button[type=submit]');
    const items = page.getByTestId('trace-item');
    await expect.poll(() => items.count()).toBe(2);
    expect(await items.nth(0).getByTestId('trace-order').textContent()).toContain(order.order.id);
    const chain = await items.nth(0).getByTestId('trace-agent').allTextContents();
    expect(chain).toHaveLength(2);
    expect(chain[0]).toContain('Leader Li');
    expect(chain[1]).toContain('Distributor Zhang');
    expect(await items.nth(1).textContent()).toContain('库中没有这个卡密');
    // The pasted secret is never shown back, only its last characters.
    expect(await page.getByTestId('trace-result').textContent()).not.toContain(order.codes[0]!.secret);
  }, 30_000);

  it('raised no uncaught page errors', () => {
    expect(h.pageErrors).toEqual([]);
  });
});
