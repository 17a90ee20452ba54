import 'dotenv/config';
import { loadConfig } from '../config.js';
import { openPlatform, closePlatform } from '../platform.js';
import { describeVerification, verifyBooks } from '../modules/ledger/reconciliation.js';

/**
 * `npm run ledger:verify`: every transaction balances, every guarded
 * account's cached balance equals the sum of its entries and none is
 * negative, and stock, orders, payments and ledger agree (see
 * reconciliation.ts for the exact rules). Prints one line per check, the
 * failing ones with their first offending rows on stderr, then one JSON line
 * on stdout for machines. Exit 0 when all agree, 1 when anything disagrees.
 */
const platform = await openPlatform(loadConfig());
try {
  const v = await verifyBooks(platform);
  const lines = describeVerification(v);
  for (const l of lines.ok) console.log(l);
  for (const l of lines.failed) console.error(l);
  const failed = v.checks.filter((c) => !c.ok);
  if (v.ok) console.log(`books consistent: ${v.transactions} ledger transactions; ${v.checks.length} checks passed`);
  else console.error(`books INCONSISTENT: ${failed.map((c) => `${c.name} (${c.count})`).join(', ')}`);
  console.log(JSON.stringify({ ok: v.ok, transactions: v.transactions, checks: v.checks.map(({ name, ok, count, ms, samples }) => ({ name, ok, count, ms, samples })) }));
  if (!v.ok) process.exitCode = 1;
} finally {
  await closePlatform(platform);
}
