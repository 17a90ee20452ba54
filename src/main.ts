import 'dotenv/config';
import { ConfigError, loadConfig } from './config.js';
import { openPlatform, closePlatform } from './platform.js';
import { createServices } from './services.js';
import { buildApp } from './app.js';
import { seedDemo } from './seed/demo.js';
import { isDependencyUnavailable } from './lib/unavailable.js';
import { startDemoSupplier } from './seed/demo-supplier.js';
import { startJobEngine, type JobEngine } from './modules/jobs/engine.js';
import { jobDefinitions } from './modules/jobs/definitions.js';
import { startChatChannels } from '../bots/channels.js';

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(78); // EX_CONFIG
    }
    throw e;
  }

  const platform = await openPlatform(config);
  const services = createServices(platform);
  const log = platform.logger;
  // pg-boss 10 does not await some of its own writes (a job's complete/fail): during a database outage they reject with
  // nobody listening, which would end the process. An outage is survived (the job expires and runs again); any other
  // unhandled rejection still ends it, as Node would.
  process.on('unhandledRejection', (reason) => {
    if (isDependencyUnavailable(reason)) return void log.warn({ err: reason }, 'a background write failed: the database is unavailable');
    log.fatal({ err: reason }, 'unhandled rejection');
    process.exit(1);
  });
  log.info({ database: platform.database.kind, cache: platform.kv.kind }, 'platform opened, migrations applied');

  const supplier = config.demoSupplier ? await startDemoSupplier(platform, config.demoSupplierPort) : null;
  const seed = config.seedDemo ? await seedDemo(platform, services, { supplier }) : { seeded: false, logins: [] };
  const jobs: JobEngine | null = config.jobsEnabled ? await startJobEngine(platform, jobDefinitions(services, config)) : null;
  const app = await buildApp(platform, services);
  await app.listen({ host: config.host, port: config.port });
  // Chat channels: Telegram and wechaty bots when configured, and the outbound queue's senders (bots/channels.ts).
  const channels = config.nodeEnv === 'test' ? null : await startChatChannels(platform, services);

  const base = config.publicUrl;
  const lines = [
    '',
    `  kaquan is running on ${platform.database.kind === 'pglite' ? `embedded PostgreSQL (${config.dataDir})` : 'PostgreSQL'} and ${platform.kv.kind === 'redis' ? 'Redis' : 'in-process cache'}`,
    `  admin panel ${base}/admin/  (the web panel; built by npm start when stale, or npm run build:admin)`,
    `  admin API   ${base}/admin/...  (log in: POST ${base}/admin/auth/login with an X-Device-Id header)`,
    `  API docs    ${base}/docs`,
    `  health      ${base}/healthz  ${base}/readyz`,
  ];
  if (supplier) lines.push(`  supplier    demo supplier simulator at ${supplier.url}`);
  if (seed.logins.length) {
    lines.push(seed.seeded ? '  demo data seeded; logins:' : `  demo logins (from ${config.dataDir}/demo-logins.json):`);
    for (const l of seed.logins) lines.push(`    ${l.role.padEnd(10)} ${l.email.padEnd(22)} ${l.password}`);
  }
  console.log(lines.join('\n') + '\n');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await channels?.stop();
    await app.close();
    await jobs?.stop();
    await supplier?.close();
    await closePlatform(platform);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  console.error('kaquan failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
