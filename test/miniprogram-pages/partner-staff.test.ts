// @vitest-environment jsdom
// Partner pages for people who work with kaquan: the agent centre (link once, commission, team, withdraw) and the
// merchant scanner (staff key entered once, scan or type, verify, redeem once), against the real booted app.
import { describe, expect, it } from 'vitest';
import { bearer } from '../helpers/boot.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { createChatLinks } from '../../bots/core/links.js';
import { createWxHarness, loadPage, mpApi, startMpServerForFile, uniq, type MpServer } from './harness.js';

let s: MpServer;
startMpServerForFile((server) => (s = server));

describe('agent centre page', () => {
  it('asks for a link code, links, shows commission and team, and withdraws to WeChat', async () => {
    const t = s.t;
    const leader = await t.services.agents.create({ name: 'Leader Zhao', role: 'distributor' });
    await t.services.agents.create({ name: 'Member Qian', role: 'group_leader', parentId: leader.id });
    await t.platform.db.transaction((tx) => t.services.ledger.post(tx, { kind: 'commission_settled', refType: 'test', refId: leader.id, postings: [{ account: accounts.commissionExpense, amountFen: -30_000 }, { account: accounts.commissionAvailable(leader.id), amountFen: 30_000 }] }));
    const code = (await createChatLinks(t.platform, t.services).issue('agent', leader.id)).code;

    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    await wxh.signIn();
    const page = await loadPage('agent', {}, wxh);
    expect(page.exists('#link-form')).toBe(true);
    expect(page.exists('#summary')).toBe(false);
    // A wrong code: the server's words, the field marked.
    await page.input('#link-code', 'WRONGCODE');
    await page.tap('#link');
    expect(page.text('#error')).toContain('unknown, already used or expired');
    expect(page.data.errorField).toBe('code');

    await page.input('#link-code', code);
    await page.tap('#link');
    expect(page.exists('#link-form')).toBe(false);
    expect(page.text('#summary')).toContain('Leader Zhao');
    expect(page.text('#available')).toBe('¥300.00');
    expect(page.text('#today')).toBe('¥0.00');
    expect(page.text('#team')).toContain('Member Qian');
    expect(page.text('#commissions')).toContain('暂无佣金');

    await page.input('#amount', 'abc');
    await page.tap('#withdraw');
    expect(page.data.errorField).toBe('amount_fen');
    await page.input('#amount', '120.5');
    await page.tap('#withdraw');
    expect(page.text('#withdrawal')).toContain('已申请 ¥120.50');
    expect(page.text('#available')).toBe('¥179.50');
    expect(await t.services.ledger.balance(accounts.commissionAvailable(leader.id).id)).toBe(17_950);
    const [w] = (await t.services.withdrawals.list({ limit: 5, agentId: leader.id })).data;
    expect(w).toMatchObject({ amount_fen: 12_050, method: 'wechat_transfer', status: 'requested' });
    // More than is available: refused by the server, nothing taken.
    await page.input('#amount', '500');
    await page.tap('#withdraw');
    expect(page.data.errorField).toBe('amount_fen');
    expect(await t.services.ledger.balance(accounts.commissionAvailable(leader.id).id)).toBe(17_950);

    // Another customer is not linked: the link form, no figures.
    const other = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    await other.signIn();
    const theirs = await loadPage('agent', {}, other);
    expect(theirs.exists('#link-form')).toBe(true);
    expect(theirs.text()).not.toContain('Leader Zhao');
  });
});

describe('merchant scanner page', () => {
  it('keeps the staff key on the phone, verifies a scanned QR token and redeems it once; a typed redeemed code says so', async () => {
    const t = s.t;
    const ops = await s.staffToken('operations');
    const admin = (url: string, payload: object) => t.inject({ method: 'POST', url, headers: bearer(ops), payload });
    const { skuId, secrets } = await s.stockSku({ name: `Cinema ticket ${uniq()}`, priceFen: 3_000, count: 2 });
    const productId = (await t.services.catalog.getSku(skuId)).productId;
    const merchant = await admin('/admin/merchants', { name: 'Cinema', product_ids: [productId] });
    expect(merchant.statusCode, merchant.body).toBe(201);
    const store = await admin(`/admin/merchants/${merchant.json().id}/stores`, { name: 'Cinema North' });
    const staff = await admin(`/admin/stores/${store.json().id}/staff`, { name: 'Clerk' });
    expect(staff.statusCode, staff.body).toBe(201);
    const key = staff.json().api_key as { id: string; secret: string };

    // The customer buys two codes and shows one as a QR code.
    const customer = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const me = await customer.signIn();
    await s.fund(me.customerId, 6_000);
    await mpApi().createOrder({ sku_id: skuId, quantity: 2, payment: 'balance' }, `o-${uniq()}`);
    const wallet = (await mpApi().wallet({ limit: 10 })) as { data: { id: string }[] };
    const token = (customer.storage.get('kq_session') as { token: string }).token;
    const codeId = wallet.data[0]!.id;
    const qr = (await t.inject({ method: 'POST', url: '/mp/v1/redemptions/qr-token', headers: bearer(token), payload: { code_id: codeId } })).json() as { token: string };
    expect(qr.token).toMatch(/^KQR1\./);
    // The customer also reads the code itself (to type it in later).
    const { secret: typed } = (await mpApi().revealCode(codeId)) as { secret: string };
    expect(secrets).toContain(typed);

    // The clerk's phone.
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const page = await loadPage('merchant', {}, wxh);
    expect(page.exists('#key-form')).toBe(true);
    await page.input('#key-id', key.id);
    await page.input('#key-secret', key.secret);
    await page.tap('#save-key');
    expect(wxh.storage.get('kq_staff_key')).toEqual({ keyId: key.id, secret: key.secret });
    expect(JSON.stringify(page.data)).not.toContain(key.secret);
    expect(page.exists('#key-form')).toBe(false);

    // Scanning gives the QR token: verified (masked), then redeemed.
    (wxh.wx as Record<string, unknown>).scanCode = (o: { success?: (r: unknown) => void }) => queueMicrotask(() => o.success?.({ result: qr.token, scanType: 'QR_CODE', errMsg: 'scanCode:ok' }));
    await page.tap('#scan');
    await wxh.idle();
    expect(page.text('#verdict')).toBe('可以核销');
    expect(page.text('#checked')).toContain('Cinema ticket');
    expect(page.text('#checked')).toContain('¥100.00');
    expect(page.text()).not.toContain(secrets[0]!);
    await page.tap('#redeem');
    expect(page.text('#result')).toContain('核销成功 ¥100.00');
    const redeemed = (await t.services.redemptions.listRedemptions({ limit: 10, storeId: store.json().id })).data;
    expect(redeemed).toHaveLength(1);

    // The redeemed code typed in (on a fresh start of the page): the scanner says it was redeemed and offers no redeem button.
    expect(redeemed[0]!.code_id).toBe(codeId);
    const clerk = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    clerk.storage.set('kq_staff_key', { keyId: key.id, secret: key.secret });
    const again = await loadPage('merchant', {}, clerk);
    await again.input('#code', typed);
    await again.tap('#verify');
    expect(again.text('#verdict')).toBe('该卡券已核销');
    expect(again.exists('#redeem')).toBe(false);
    expect((await t.services.redemptions.listRedemptions({ limit: 10, storeId: store.json().id })).data).toHaveLength(1);

    // A wrong secret: the server refuses the signature and the page says so.
    clerk.storage.set('kq_staff_key', { keyId: key.id, secret: 'not-the-secret' });
    await again.tap('#verify');
    expect(again.text('#error')).toBe('signature does not match');
  });
});
