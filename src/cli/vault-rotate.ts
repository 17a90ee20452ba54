import 'dotenv/config';
import { loadConfig } from '../config.js';
import { openPlatform, closePlatform } from '../platform.js';
import { rotateMasterKey } from '../modules/vault/rotation.js';

/**
 * `npm run vault:rotate`: re-wraps every data key and sealed secret under the
 * active master key (VAULT_ACTIVE_KEY_ID, default the last of
 * VAULT_MASTER_KEYS). Keep the old key in VAULT_MASTER_KEYS until this
 * reports nothing left on it, then remove it.
 */
const config = loadConfig();
const platform = await openPlatform(config);
try {
  const report = await rotateMasterKey(platform, { onProgress: (table, n) => console.log(`  ${table}: ${n} re-wrapped`) });
  console.log(`master key rotation to "${report.activeKeyId}" done`);
  for (const [table, n] of Object.entries(report.rewrapped)) console.log(`  ${table.padEnd(14)} re-wrapped ${n}, left on old keys ${report.remainingOnOldKeys[table]}`);
  if (Object.values(report.remainingOnOldKeys).some((n) => n > 0)) process.exitCode = 1;
} finally {
  await closePlatform(platform);
}
