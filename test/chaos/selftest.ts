/**
 * Proof that the checks can fail: after the last fault, the chaos database
 * (thrown away next) is corrupted on purpose, one way per invariant, and
 * every corruption must be reported by the check that guards it.
 */
import pg from 'pg';
import { chaosChecks, ledgerVerify, type CheckContext } from './invariants.js';

const corruptions: { name: string; expect: RegExp; sql: string }[] = [
  {
    name: 'a delivered code sold again',
    expect: /^no code sold twice$/,
    sql: `insert into code_events (id, code_id, from_state, to_state, actor_type, at)
          select 'cev_chaos_selftest', code_id, 'reserved', 'sold', 'order', now() from code_events where to_state = 'sold' limit 1`,
  },
  {
    name: 'a paid order left undelivered',
    expect: /^every paid order delivered or refunded$/,
    sql: `update orders set status = 'paid' where id = (select id from orders where status = 'delivered' and paid_at is not null order by id limit 1)`,
  },
  {
    name: 'a code moved to another SKU',
    expect: /^no code lost or created/,
    sql: `update codes set sku_id = (select sku_id from codes c2 where c2.sku_id <> codes.sku_id limit 1) where id = (select id from codes where state = 'available' order by id limit 1)`,
  },
  {
    // (An unbalanced entry is refused by the database itself, at commit.)
    name: "an agent's balance off its entries",
    expect: /^ledger:verify ledger_cached_balances_match_entries$/,
    sql: `update ledger_accounts set balance_fen = balance_fen + 1 where id = (select id from ledger_accounts where kind = 'agent_balance' order by id limit 1)`,
  },
];

export async function selfTest(ctx: CheckContext, env: Record<string, string>): Promise<{ detected: number; total: number; missed: string[] }> {
  const c = new pg.Client({ connectionString: ctx.dbUrl });
  await c.connect();
  const refused: string[] = [];
  try {
    for (const k of corruptions) {
      // A corruption the database refuses outright is guarded too: counted as caught.
      const n = await c.query(k.sql).then((r) => r.rowCount ?? 0, () => (refused.push(k.name), -1));
      if (n === 0) throw new Error(`self-test: "${k.name}" changed nothing; the corruption needs other data`);
    }
  } finally {
    await c.end();
  }
  const checks = [...ledgerVerify(env), ...(await chaosChecks(ctx))];
  const failing = checks.filter((x) => x.violations > 0).map((x) => x.name);
  const missed = corruptions.filter((k) => !refused.includes(k.name) && !failing.some((n) => k.expect.test(n))).map((k) => k.name);
  return { detected: corruptions.length - missed.length, total: corruptions.length, missed };
}
