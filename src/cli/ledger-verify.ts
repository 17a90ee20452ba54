import 'dotenv/config';
import { loadConfig } from '../config.js';
import { openPlatform, closePlatform } from '../platform.js';
import { createLedgerService } from '../modules/ledger/service.js';

/**
 * `npm run ledger:verify`: every transaction balances, every guarded
 * account's cached balance equals the sum of its entries and none is
 * negative. Exit 0 when all agree, 1 naming what disagrees.
 */
const platform = await openPlatform(loadConfig());
try {
  const v = await createLedgerService(platform).verify();
  if (v.ok) {
    console.log(`ledger consistent: ${v.transactions} transactions, all balanced; guarded balances equal their entries`);
  } else {
    for (const u of v.unbalancedTransactions) console.error(`UNBALANCED transaction ${u.id}: entries sum to ${Number.isNaN(u.sum) ? '(fewer than two entries)' : u.sum}`);
    for (const m of v.cachedBalanceMismatches) console.error(`BALANCE MISMATCH ${m.account}: cached ${m.cached}, entries ${m.entries}`);
    for (const n of v.negativeGuardedAccounts) console.error(`NEGATIVE guarded account ${n.account}: ${n.balance}`);
    process.exitCode = 1;
  }
} finally {
  await closePlatform(platform);
}
