import 'dotenv/config';
import { loadConfig } from '../config.js';
import { openPlatform, closePlatform } from '../platform.js';
import { createAuditService } from '../modules/audit/service.js';

/** `npm run audit:verify`: walks the audit hash chain; exit 0 when intact, 1 with the first broken link. */
const config = loadConfig();
const platform = await openPlatform(config);
try {
  const result = await createAuditService(platform).verify();
  if (result.ok) {
    console.log(`audit chain intact: ${result.rows} rows verified`);
  } else {
    console.error(`audit chain BROKEN: first broken link at row ${result.firstBroken.seq}: ${result.firstBroken.reason} (${result.rows} rows verified before it)`);
    process.exitCode = 1;
  }
} finally {
  await closePlatform(platform);
}
