import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, type TestApp } from '../helpers/boot.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { databaseMessage, queryRows } from '../../src/db/raw.js';

const failure = (promise: Promise<unknown>) => promise.then(() => 'no error', databaseMessage);

let t: TestApp;
beforeAll(async () => {
  t = await bootTestApp();
});
afterAll(() => t.close());

describe('double-entry ledger', () => {
  it('a balanced transaction moves money; guarded balances follow their entries', async () => {
    const c = accounts.customerBalance('cus_A');
    await t.platform.db.transaction((tx) => t.services.ledger.post(tx, { kind: 'topup', postings: [{ account: accounts.cash, amountFen: -10_000 }, { account: c, amountFen: 10_000 }] }));
    await t.platform.db.transaction((tx) => t.services.ledger.post(tx, { kind: 'order', postings: [{ account: c, amountFen: -2_500 }, { account: accounts.revenue, amountFen: 2_500 }] }));
    expect(await t.services.ledger.balances([c.id, accounts.cash.id, accounts.revenue.id])).toEqual({ [c.id]: 7_500, [accounts.cash.id]: -10_000, [accounts.revenue.id]: 2_500 });
    expect(await t.services.ledger.globalSum()).toBe(0);
    expect((await t.services.ledger.verify()).ok).toBe(true);
  });

  it('an unbalanced transaction is refused in code and, bypassing the code, by the database at commit', async () => {
    await expect(t.platform.db.transaction((tx) => t.services.ledger.post(tx, { kind: 'bad', postings: [{ account: accounts.cash, amountFen: -1 }, { account: accounts.revenue, amountFen: 2 }] }))).rejects.toThrow(/sum to 1/);
    await t.services.ledger.ensureAccounts(t.platform.db, [accounts.cash, accounts.revenue]);
    expect(
      await failure(
        t.platform.db.transaction(async (tx) => {
          await queryRows(tx, `insert into ledger_transactions (id, kind, created_at) values ('ltx_raw', 'raw', now())`);
          await queryRows(tx, `insert into ledger_entries (transaction_id, account_id, amount_fen, created_at) values ('ltx_raw', 'platform:cash', -5, now()), ('ltx_raw', 'platform:revenue', 4, now())`);
        }),
      ),
    ).toMatch(/does not balance/);
    expect((await queryRows(t.platform.db, `select 1 from ledger_transactions where id = 'ltx_raw'`)).length).toBe(0);
  });

  it('a guarded account never goes negative: the whole transaction rolls back', async () => {
    const c = accounts.customerBalance('cus_B');
    await t.platform.db.transaction((tx) => t.services.ledger.post(tx, { kind: 'topup', postings: [{ account: accounts.cash, amountFen: -100 }, { account: c, amountFen: 100 }] }));
    await expect(t.platform.db.transaction((tx) => t.services.ledger.post(tx, { kind: 'order', postings: [{ account: c, amountFen: -101 }, { account: accounts.revenue, amountFen: 101 }] }))).rejects.toMatchObject({ code: 'UNPROCESSABLE', details: { code: 'INSUFFICIENT_FUNDS' } });
    expect(await t.services.ledger.balance(c.id)).toBe(100);
  });

  it('concurrent spends of one balance never overdraw it', async () => {
    const c = accounts.customerBalance('cus_C');
    await t.platform.db.transaction((tx) => t.services.ledger.post(tx, { kind: 'topup', postings: [{ account: accounts.cash, amountFen: -1_000 }, { account: c, amountFen: 1_000 }] }));
    const results = await Promise.allSettled(Array.from({ length: 25 }, () => t.platform.db.transaction((tx) => t.services.ledger.post(tx, { kind: 'order', postings: [{ account: c, amountFen: -100 }, { account: accounts.revenue, amountFen: 100 }] }))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    expect(await t.services.ledger.balance(c.id)).toBe(0);
    expect((await t.services.ledger.verify()).ok).toBe(true);
  });

  it('entries are immutable, and the verifier names a tampered cache', async () => {
    expect(await failure(queryRows(t.platform.db, `update ledger_entries set amount_fen = 1 where id = (select min(id) from ledger_entries)`))).toMatch(/immutable/);
    expect(await failure(queryRows(t.platform.db, `delete from ledger_entries`))).toMatch(/immutable/);
    await queryRows(t.platform.db, `update ledger_accounts set balance_fen = balance_fen + 7 where id = 'customer:cus_A:balance'`);
    const v = await t.services.ledger.verify();
    expect(v.ok).toBe(false);
    expect(v.cachedBalanceMismatches).toEqual([{ account: 'customer:cus_A:balance', cached: 7_507, entries: 7_500 }]);
  });
});
