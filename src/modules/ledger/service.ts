import { eq, sql } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx } from '../../db/client.js';
import { databaseMessage, queryRows } from '../../db/raw.js';
import { AppError } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { ledgerAccounts } from './schema.js';
import { accounts, checkPostings, type AccountSpec, type Posting } from './accounts.js';

export interface LedgerPost {
  kind: string;
  refType?: string;
  refId?: string;
  memo?: string;
  /** The marketing campaign this movement belongs to (campaign ROI). */
  campaignId?: string | null;
  postings: Posting[];
}

export interface LedgerVerification {
  ok: boolean;
  transactions: number;
  unbalancedTransactions: { id: string; sum: number }[];
  cachedBalanceMismatches: { account: string; cached: number; entries: number }[];
  negativeGuardedAccounts: { account: string; balance: number }[];
}

/**
 * Posts balanced transactions. Call `post` with the caller's transaction so
 * the money moves together with the order, refund or withdrawal it belongs to.
 */
export function createLedgerService(p: Platform) {
  async function ensureAccounts(db: DbOrTx, specs: AccountSpec[]) {
    const unique = [...new Map(specs.map((s) => [s.id, s])).values()];
    await queryRows(
      db,
      `insert into ledger_accounts (id, kind, owner_type, owner_id, allow_negative, balance_fen, created_at)
       select u.id, u.kind, u.owner_type, u.owner_id, u.allow_negative, 0, $1::timestamptz
       from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[]) as u(id, kind, owner_type, owner_id, allow_negative)
       on conflict (id) do nothing`,
      [p.clock.now().toISOString(), unique.map((s) => s.id), unique.map((s) => s.kind), unique.map((s) => s.ownerType), unique.map((s) => s.ownerId), unique.map((s) => s.allowNegative)],
    );
  }

  /**
   * One balanced transaction. A guarded account that would go below zero
   * makes the statement fail (CHECK constraint); that surfaces as
   * INSUFFICIENT_FUNDS-style UNPROCESSABLE so the caller's transaction rolls back.
   */
  async function post(db: DbOrTx, t: LedgerPost): Promise<string> {
    const problem = checkPostings(t.postings);
    if (problem) throw new Error(`unbalanced ledger transaction (${t.kind}): ${problem}`);
    const id = newId('ltx', p.clock.now());
    const now = p.clock.now().toISOString();
    const specs = [...new Map(t.postings.map((x) => [x.account.id, x.account])).values()];
    try {
      // One statement: the accounts (created on first use), the transaction and its entries.
      await queryRows(
        db,
        `with accounts as (
           insert into ledger_accounts (id, kind, owner_type, owner_id, allow_negative, balance_fen, created_at)
           select a.id, a.kind, a.owner_type, a.owner_id, a.allow_negative, 0, $2::timestamptz
           from unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::boolean[]) as a(id, kind, owner_type, owner_id, allow_negative)
           on conflict (id) do nothing),
         txn as (insert into ledger_transactions (id, kind, ref_type, ref_id, memo, created_at, campaign_id) values ($1, $3, $4, $5, $6, $2::timestamptz, $14))
         insert into ledger_entries (transaction_id, account_id, amount_fen, created_at)
         select $1, u.account_id, u.amount, $2::timestamptz from unnest($12::text[], $13::bigint[]) as u(account_id, amount)`,
        [
          id,
          now,
          t.kind,
          t.refType ?? null,
          t.refId ?? null,
          t.memo ?? null,
          specs.map((s) => s.id),
          specs.map((s) => s.kind),
          specs.map((s) => s.ownerType),
          specs.map((s) => s.ownerId),
          specs.map((s) => s.allowNegative),
          t.postings.map((x) => x.account.id),
          t.postings.map((x) => x.amountFen),
          t.campaignId ?? null,
        ],
        { prepare: true },
      );
    } catch (err) {
      if (/ledger_accounts_non_negative/.test(databaseMessage(err))) {
        throw new AppError('UNPROCESSABLE', 'insufficient balance', { code: 'INSUFFICIENT_FUNDS', kind: t.kind });
      }
      throw err;
    }
    return id;
  }

  /** Balance of one account: cached for guarded accounts, summed for platform ones. */
  async function balance(accountId: string, db: DbOrTx = p.db): Promise<number> {
    const [a] = await db.select().from(ledgerAccounts).where(eq(ledgerAccounts.id, accountId));
    if (!a) return 0;
    if (!a.allowNegative) return a.balanceFen;
    const [row] = await queryRows<{ s: string | null }>(db, 'select sum(amount_fen)::text as s from ledger_entries where account_id = $1', [accountId]);
    return Number(row?.s ?? 0);
  }

  async function balances(accountIds: string[]): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const id of accountIds) out[id] = await balance(id);
    return out;
  }

  /** Every transaction balances; every guarded account's cache equals its entries and is not negative. */
  async function verify(): Promise<LedgerVerification> {
    const unbalanced = await queryRows<{ id: string; sum: string }>(p.db, `select transaction_id as id, sum(amount_fen)::text as sum from ledger_entries group by transaction_id having sum(amount_fen) <> 0 limit 100`);
    const lonely = await queryRows<{ id: string }>(p.db, `select t.id from ledger_transactions t left join ledger_entries e on e.transaction_id = t.id group by t.id having count(e.id) < 2 limit 100`);
    const mismatches = await queryRows<{ account: string; cached: string; entries: string }>(
      p.db,
      `select a.id as account, a.balance_fen::text as cached, coalesce(sum(e.amount_fen), 0)::text as entries
       from ledger_accounts a left join ledger_entries e on e.account_id = a.id
       where not a.allow_negative group by a.id having a.balance_fen <> coalesce(sum(e.amount_fen), 0) limit 100`,
    );
    const negative = await queryRows<{ account: string; balance: string }>(p.db, `select id as account, balance_fen::text as balance from ledger_accounts where not allow_negative and balance_fen < 0 limit 100`);
    const [count] = await queryRows<{ n: string }>(p.db, 'select count(*)::text as n from ledger_transactions');
    const unbalancedTransactions = [...unbalanced.map((u) => ({ id: u.id, sum: Number(u.sum) })), ...lonely.map((l) => ({ id: l.id, sum: Number.NaN }))];
    const cachedBalanceMismatches = mismatches.map((m) => ({ account: m.account, cached: Number(m.cached), entries: Number(m.entries) }));
    const negativeGuardedAccounts = negative.map((n) => ({ account: n.account, balance: Number(n.balance) }));
    return {
      ok: unbalancedTransactions.length === 0 && cachedBalanceMismatches.length === 0 && negativeGuardedAccounts.length === 0,
      transactions: Number(count?.n ?? 0),
      unbalancedTransactions,
      cachedBalanceMismatches,
      negativeGuardedAccounts,
    };
  }

  /** Sum of all entries: zero in a healthy ledger (a cheap global check). */
  async function globalSum(): Promise<number> {
    const [row] = await p.db.execute<{ s: string | null }>(sql`select sum(amount_fen)::text as s from ledger_entries`).then((r) => (r as unknown as { rows: { s: string | null }[] }).rows);
    return Number(row?.s ?? 0);
  }

  /**
   * Per campaign, what its ledger movements cost the promotion budget (bonuses,
   * rewards, promotion-paid orders, net of refunds: positive = spent) and the
   * cost of the goods its orders sold.
   */
  async function campaignCosts(campaignIds: string[], db: DbOrTx = p.db): Promise<Map<string, { promotionFen: number; costOfGoodsFen: number }>> {
    const out = new Map(campaignIds.map((id) => [id, { promotionFen: 0, costOfGoodsFen: 0 }]));
    if (!campaignIds.length) return out;
    const rows = await queryRows<{ campaign_id: string; promotion: string; cogs: string }>(
      db,
      `select t.campaign_id,
              coalesce(-sum(e.amount_fen) filter (where e.account_id = $2), 0)::text as promotion,
              coalesce(-sum(e.amount_fen) filter (where e.account_id = $3), 0)::text as cogs
       from ledger_transactions t join ledger_entries e on e.transaction_id = t.id
       where t.campaign_id = any($1::text[]) and e.account_id in ($2, $3)
       group by t.campaign_id`,
      [campaignIds, accounts.promotionExpense.id, accounts.costOfGoods.id],
    );
    for (const r of rows) out.set(r.campaign_id, { promotionFen: Number(r.promotion), costOfGoodsFen: Number(r.cogs) });
    return out;
  }

  return { post, balance, balances, verify, globalSum, ensureAccounts, campaignCosts };
}

export type LedgerService = ReturnType<typeof createLedgerService>;
