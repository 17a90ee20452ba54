import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';

let t: TestApp;
beforeAll(async () => {
  t = await bootTestApp();
});
afterAll(() => t.close());

describe('chat identities link to one customer account', () => {
  it('the first message creates the customer, later ones find it', async () => {
    const a = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: '1001' }, displayName: 'Li' });
    const b = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: '1001' } });
    expect(a.created).toBe(true);
    expect(b).toEqual({ customerId: a.customerId, created: false, createdAt: a.createdAt });
  });

  it('twenty simultaneous first messages make exactly one customer', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => t.services.customers.resolve({ identity: { provider: 'wechat_openid', externalId: 'o-race' } })));
    expect(new Set(results.map((r) => r.customerId)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const rows = (await t.platform.database.executeSql<{ n: string }>(`select count(*)::int as n from customer_identities where external_id = 'o-race'`)).rows;
    expect(Number(rows[0]!.n)).toBe(1);
  });

  it('a WeChat unionid joins the Official Account and mini-program openids', async () => {
    const oa = await t.services.customers.resolve({ identity: { provider: 'wechat_openid', externalId: 'oa-open-1' }, unionId: 'union-1' });
    const mp = await t.services.customers.resolve({ identity: { provider: 'miniprogram_openid', externalId: 'mp-open-1' }, unionId: 'union-1' });
    expect(mp.customerId).toBe(oa.customerId);
    const view = await t.services.customers.get(oa.customerId);
    expect(view.identities.map((i) => i.provider).sort()).toEqual(['miniprogram_openid', 'wechat_openid', 'wechat_unionid']);
  });

  it('linking an identity that belongs to somebody else is refused', async () => {
    const x = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: 'x-1' } });
    const y = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: 'y-1' } });
    await t.services.customers.link(x.customerId, { provider: 'wecom_userid', externalId: 'wc-1' });
    await expect(t.services.customers.link(y.customerId, { provider: 'wecom_userid', externalId: 'wc-1' })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('phones are sealed at rest, found by keyed hash, shown masked', async () => {
    const c = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: 'phone-1' } });
    await t.services.customers.setPhone(c.customerId, '13812341234');
    expect(await t.services.customers.findByPhone('13812341234')).toEqual([c.customerId]);
    const raw = (await t.platform.database.executeSql<Record<string, unknown>>(`select * from customers where id = '${c.customerId}'`)).rows[0]!;
    expect(JSON.stringify(raw)).not.toContain('13812341234');
    const owner = await t.loginAs('owner');
    const res = await t.inject({ method: 'GET', url: `/admin/customers/${c.customerId}`, headers: bearer(owner.token) });
    expect(res.json().phone).toBe('138****1234');
    await expect(t.services.customers.setPhone(c.customerId, 'call me')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('the customer list pages by cursor without repeats or gaps', async () => {
    for (let i = 0; i < 7; i++) await t.services.customers.resolve({ identity: { provider: 'partner', externalId: `page-${i}` } });
    const support = await t.loginAs('support');
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/admin/customers?limit=4${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await t.inject({ method: 'GET', url, headers: bearer(support.token) })).json();
      seen.push(...page.data.map((c: { id: string }) => c.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor);
    const total = Number((await t.platform.database.executeSql<{ n: number }>('select count(*)::int as n from customers')).rows[0]!.n);
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    expect(pages).toBe(Math.ceil(total / 4) + (total % 4 === 0 ? 1 : 0));
    expect([...seen].sort().reverse()).toEqual(seen);
  });
});
