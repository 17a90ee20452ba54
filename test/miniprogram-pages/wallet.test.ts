// @vitest-environment jsdom
// The asset pack (groups, counts, expiring soon, reveal, activation link, usage), gifting and claiming between two
// customers, and a cancelled gift whose claim link stops working.
import { describe, expect, it } from 'vitest';
import { createWxHarness, loadPage, mpApi, route, startMpServerForFile, uniq, type MpServer } from './harness.js';

let s: MpServer;
startMpServerForFile((server) => (s = server));

const DAY = 86_400_000;
const buy = async (skuId: string, quantity = 1) => ((await mpApi().createOrder({ sku_id: skuId, quantity, payment: 'balance' }, `o-${uniq()}`)) as { order: { id: string } }).order.id;
const codesOfOrder = async (orderId: string) => (await s.t.platform.database.executeSql<{ id: string }>('select id from codes where order_id = $1 order by id', [orderId])).rows.map((r) => r.id);

describe('wallet pages', () => {
  it('groups and counts come from the server; expiring soon is called out; reveal shows the secret, the activation link and how to use it', async () => {
    const plain = await s.stockSku({ name: `Plain ${uniq()}`, priceFen: 100, count: 2 });
    const soon = await s.stockSku({ name: `Soon ${uniq()}`, priceFen: 100, count: 1, expiresAt: new Date(s.clock.now().getTime() + 3 * DAY) });
    const brand = await s.stockSku({ name: `Brand ${uniq()}`, priceFen: 100, count: 1, redeemUrl: 'https://brand.example/redeem?code={code}', usageInstructions: 'Open the brand app and paste the code.' });
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const me = await wxh.signIn();
    await s.fund(me.customerId, 400);
    const [plainCodes, soonCodes, brandCodes] = [await codesOfOrder(await buy(plain.skuId, 2)), await codesOfOrder(await buy(soon.skuId)), await codesOfOrder(await buy(brand.skuId))];

    const page = await loadPage('wallet', {}, wxh);
    const server = (await mpApi().wallet({ limit: 100 })) as { counts: Record<string, number> };
    expect(server.counts).toMatchObject({ ready: 3, expiring_soon: 1, revealed: 0 });
    for (const g of ['ready', 'expiring_soon', 'revealed', 'redeemed', 'expired']) expect(page.text(`#count-${g}`)).toBe(String(server.counts[g]));
    expect(page.text('#expiring-banner')).toContain('1 张');
    expect(page.data.groups.map((g: { group: string; items: { id: string }[] }) => [g.group, g.items.map((i) => i.id).sort()])).toEqual([
      ['expiring_soon', soonCodes],
      ['ready', [...plainCodes, ...brandCodes].sort()],
    ]);
    expect(page.text(`#code-${soonCodes[0]}`)).toContain('剩 3 天');

    await page.tap(`#reveal-${brandCodes[0]}`);
    expect(page.text(`#secret-${brandCodes[0]}`)).toBe(brand.secrets[0]);
    expect(page.text(`#code-${brandCodes[0]}`)).toContain('Open the brand app and paste the code.');
    await page.tap(`#activate-${brandCodes[0]}`);
    expect(wxh.clipboard).toBe(`https://brand.example/redeem?code=${encodeURIComponent(brand.secrets[0]!)}`);
    await page.tap(`#copy-${brandCodes[0]}`);
    expect(wxh.clipboard).toBe(brand.secrets[0]);
    // A revealed code can no longer be gifted; the server now counts it as revealed.
    expect(page.exists(`#gift-${brandCodes[0]}`)).toBe(false);
    await page.tap('#tab-revealed');
    expect(page.data.groups.map((g: { group: string; items: { id: string }[] }) => [g.group, g.items.map((i) => i.id)])).toEqual([['revealed', brandCodes]]);
    expect(page.text('#count-revealed')).toBe('1');
  });

  it('gift: the giver creates a card and shares the claim page; a friend claims it and the code moves to their wallet', async () => {
    const { skuId, secrets } = await s.stockSku({ name: `Gift ${uniq()}`, priceFen: 300, count: 1 });
    const alice = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const a = await alice.signIn();
    await s.fund(a.customerId, 300);
    const [codeId] = await codesOfOrder(await buy(skuId));

    const wallet = await loadPage('wallet', {}, alice);
    await wallet.tap(`#gift-${codeId}`);
    const toGift = route(alice.callsOf('navigateTo')[0]!.url as string);
    expect(toGift.name).toBe('gift');
    expect(toGift.query.code).toBe(codeId);
    const gift = await loadPage(toGift.name, toGift.query, alice);
    expect(gift.text('#name')).toContain('Gift');
    await gift.input('#message', 'happy birthday');
    await gift.tap('#create');
    expect(gift.text('#status')).toBe('等待好友领取');
    expect(gift.exists('#share')).toBe(true);
    const share = gift.instance.onShareAppMessage() as { title: string; path: string };
    const toClaim = route(share.path);
    expect(toClaim.name).toBe('claim');
    expect(toClaim.query.token).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    // The other way to send it: the server's card text (link + token) copied for any chat.
    await gift.tap('#copy-card');
    expect(alice.clipboard).toContain(toClaim.query.token);
    expect(alice.clipboard).toContain('happy birthday');

    const bob = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const b = await bob.signIn();
    const claim = await loadPage(toClaim.name, toClaim.query, bob);
    await claim.tap('#claim');
    expect(claim.text('#claimed')).toContain('领取成功');
    await claim.tap('#to-wallet');
    expect(bob.callsOf('switchTab')).toEqual([{ url: '/pages/wallet/index' }]);
    const bobWallet = await loadPage('wallet', {}, bob);
    expect(bobWallet.exists(`#code-${codeId}`)).toBe(true);
    await bobWallet.tap(`#reveal-${codeId}`);
    expect(bobWallet.text(`#secret-${codeId}`)).toBe(secrets[0]);
    const holder = (await s.t.platform.database.executeSql<{ customer_id: string }>('select customer_id from wallet_holdings where code_id = $1', [codeId])).rows;
    expect(holder).toEqual([{ customer_id: b.customerId }]);
    // Bob now holds it, so he reports it: the wallet opens after-sales with the code only (he does not know alice's order).
    await bobWallet.tap(`#report-${codeId}`);
    const toReport = route(bob.callsOf('navigateTo').at(-1)!.url as string);
    expect([toReport.name, toReport.query]).toEqual(['after-sales', { codes: codeId }]);
    const report = await loadPage(toReport.name, toReport.query, bob);
    await report.input('#description', 'the brand says it is invalid');
    await report.tap('#submit');
    expect(report.data.error).toBe('');
    expect(report.exists('#submitted')).toBe(true);
    expect(bob.requests.filter((r) => r.path === '/mp/v1/after-sales' && r.method === 'POST').map((r) => r.status)).toEqual([201]);

    // Back as alice: the code left her wallet; claiming her own (now claimed) link again is refused with the server's words.
    alice.activate();
    const aliceWallet = await loadPage('wallet', {}, alice);
    expect(aliceWallet.exists(`#code-${codeId}`)).toBe(false);
    const again = await loadPage('claim', toClaim.query, alice);
    await again.tap('#claim');
    expect(again.data.claimed).toBe(false);
    expect(again.data.error).not.toBe('');
    expect(alice.requests.filter((r) => r.path === '/mp/v1/wallet/gifts/claim').map((r) => r.status)).toEqual([409]);
  });

  it('a gift cancelled by its giver cannot be claimed: the friend sees the server message and the code stays with the giver', async () => {
    const { skuId } = await s.stockSku({ priceFen: 200, count: 1 });
    const alice = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const a = await alice.signIn();
    await s.fund(a.customerId, 200);
    const [codeId] = await codesOfOrder(await buy(skuId));
    const gift = await loadPage('gift', { code: codeId!, name: 'Card' }, alice);
    await gift.tap('#create');
    const token = route((gift.instance.onShareAppMessage() as { path: string }).path).query.token!;
    await gift.tap('#cancel');
    expect(gift.text('#status')).toContain('已取消');
    expect(gift.exists('#cancel')).toBe(false);
    // After cancelling, sharing no longer hands out the token.
    expect((gift.instance.onShareAppMessage() as { path: string }).path).toBe('/pages/index/index');

    const bob = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    await bob.signIn();
    const claim = await loadPage('claim', { token }, bob);
    await claim.tap('#claim');
    const refused = bob.requests.find((r) => r.path === '/mp/v1/wallet/gifts/claim')!;
    expect(refused.status).toBe(409);
    expect(claim.text('#error')).toMatch(/cancel/i);
    expect(claim.exists('#claimed')).toBe(false);

    alice.activate();
    const w = await loadPage('wallet', {}, alice);
    expect(w.exists(`#code-${codeId}`)).toBe(true);
    expect(w.exists(`#gift-${codeId}`)).toBe(true);
  });
});
