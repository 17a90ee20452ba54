import 'dotenv/config';
import { loadConfig } from '../config.js';
import { openPlatform, closePlatform } from '../platform.js';
import { describeVaultVerification, verifyVault } from '../modules/vault/verify.js';

/**
 * `npm run vault:verify`: opens every code and sealed value with the
 * configured keys (VAULT_MASTER_KEYS, HMAC_KEY) and checks each code's lookup
 * hash and tail; prints a summary, the first failures by row id (never a
 * secret) and one JSON line. Exit 1 when anything does not open or match.
 */
const platform = await openPlatform(loadConfig());
try {
  const v = await verifyVault(platform.database, platform);
  const lines = describeVaultVerification(v);
  (v.ok ? console.log : console.error)(lines.join('\n'));
  console.log(JSON.stringify({ ok: v.ok, batches: v.batches, codes: v.codes, sealed_values: v.sealedValues, master_key_ids: v.masterKeyIds, failures: v.failureCount }));
  if (!v.ok) process.exitCode = 1;
} finally {
  await closePlatform(platform);
}
