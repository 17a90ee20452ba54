import PgBoss from 'pg-boss';
import type { Platform } from '../../platform.js';
import { queryRows } from '../../db/raw.js';

// Instances starting together on a new database (or a release adding queues) would race creating pg-boss's schema
// and queues (duplicate schema errors; create_queue deadlocks attaching partitions): they start one at a time.
const ENGINE_START_LOCK = 7_240_002;

/**
 * Background work runs on pg-boss, in the same PostgreSQL (embedded or real):
 * jobs are rows, so they survive restarts, and SKIP LOCKED hands each job to
 * exactly one worker across all instances. No Redis needed, no home-made queue.
 */
export interface JobDefinition<T extends object = object> {
  name: string;
  handler: (data: T, job: { id: string; name: string }) => Promise<void>;
  /** cron expression (UTC) for recurring jobs */
  cron?: string;
  retryLimit?: number;
  retryDelaySeconds?: number;
  retryBackoff?: boolean;
  expireInSeconds?: number;
  batchSize?: number;
}

export interface JobEngine {
  send<T extends object>(name: string, data: T, options?: { singletonKey?: string; startAfter?: Date | number; retryLimit?: number }): Promise<string | null>;
  stop(): Promise<void>;
  readonly boss: PgBoss;
}

export async function startJobEngine(p: Platform, definitions: JobDefinition[], opts: { work?: boolean; pollingIntervalSeconds?: number } = {}): Promise<JobEngine> {
  const boss = new PgBoss({
    db: { executeSql: (text: string, values?: unknown[]) => p.database.executeSql(text, values) },
    schema: 'pgboss',
    // Embedded mode is one process: its own monitor is enough, and fewer timers keep it light.
    supervise: true,
    schedule: definitions.some((d) => d.cron),
    migrate: true,
  } as PgBoss.ConstructorOptions);
  boss.on('error', (err) => p.logger.error({ err }, 'job engine error'));
  const oneAtATime = (fn: () => Promise<void>) =>
    p.database.kind === 'postgres'
      ? p.db.transaction(async (tx) => {
          await queryRows(tx, 'select pg_advisory_xact_lock($1)', [ENGINE_START_LOCK]);
          await fn();
        })
      : fn(); // embedded: one process, and PGlite runs one transaction at a time
  await oneAtATime(async () => {
    await boss.start();

    for (const d of definitions) {
      await boss.createQueue(d.name, {
        name: d.name,
        retryLimit: d.retryLimit ?? 5,
        retryDelay: d.retryDelaySeconds ?? 10,
        retryBackoff: d.retryBackoff ?? true,
        expireInSeconds: d.expireInSeconds ?? 15 * 60,
      });
      if (opts.work !== false) {
        await boss.work(d.name, { batchSize: d.batchSize ?? 1, pollingIntervalSeconds: opts.pollingIntervalSeconds ?? 2 }, async (jobs) => {
          for (const job of jobs) {
            const started = Date.now();
            try {
              await d.handler(job.data as never, { id: job.id, name: job.name });
              p.logger.debug({ job: job.name, id: job.id, ms: Date.now() - started }, 'job done');
            } catch (err) {
              p.logger.warn({ err, job: job.name, id: job.id }, 'job failed; pg-boss will retry');
              throw err;
            }
          }
        });
      }
      if (d.cron) await boss.schedule(d.name, d.cron, {}, { tz: 'UTC' });
    }
  });

  return {
    boss,
    async send(name, data, options = {}) {
      return boss.send(name, data, options as PgBoss.SendOptions);
    },
    async stop() {
      await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
    },
  };
}
