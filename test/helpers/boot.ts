import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { loadConfig, type Config } from '../../src/config.js';
import { openPlatform, closePlatform, type Platform } from '../../src/platform.js';
import { createServices, type Services } from '../../src/services.js';
import { buildApp } from '../../src/app.js';
import type { Clock } from '../../src/lib/clock.js';
import type { Logger } from '../../src/lib/logger.js';
import type { Role } from '../../src/modules/auth/permissions.js';

/** Fixed test keys: 32 bytes each, base64. */
export const TEST_MASTER_KEYS = `t1:${Buffer.alloc(32, 7).toString('base64')}`;
export const TEST_HMAC_KEY = Buffer.alloc(32, 9).toString('base64');
export const TEST_PASSWORD = 'correct horse battery staple';

export const realServers = Boolean(process.env.DATABASE_URL);

/**
 * A fresh database for one test file: a new PostgreSQL database on the real
 * server when DATABASE_URL is set, otherwise an embedded PGlite (in memory,
 * or in a temporary directory when the test needs files).
 */
export async function freshDatabaseEnv(opts: { onDisk?: boolean } = {}) {
  const suffix = randomBytes(5).toString('hex');
  const dataDir = mkdtempSync(join(tmpdir(), 'kq-test-'));
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    VAULT_MASTER_KEYS: TEST_MASTER_KEYS,
    HMAC_KEY: TEST_HMAC_KEY,
    SESSION_SECRET: 'test-session-secret-with-enough-length-0123456789',
    REDIS_PREFIX: `kqt:${suffix}:`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // Every inject comes from 127.0.0.1: tests that are not about the mini-program login limit must not trip it.
    MP_LOGIN_PER_IP: '1000000',
  };
  let dropDatabase = async () => {};
  if (process.env.DATABASE_URL) {
    const adminUrl = new URL(process.env.DATABASE_URL);
    const name = `kq_t_${suffix}`;
    const admin = new pg.Client({ connectionString: adminUrl.toString() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    env.DATABASE_URL = url.toString();
    dropDatabase = async () => {
      const c = new pg.Client({ connectionString: adminUrl.toString() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
  }
  if (process.env.REDIS_URL) env.REDIS_URL = process.env.REDIS_URL;
  return {
    env,
    dataDir,
    onDisk: opts.onDisk ?? false,
    async cleanup() {
      await dropDatabase();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TestApp {
  app: FastifyInstance;
  platform: Platform;
  services: Services;
  config: Config;
  env: Record<string, string>;
  /** Closes the app and the platform but keeps the database (to reopen it). */
  stop(): Promise<void>;
  /** Closes everything and drops the database. */
  close(): Promise<void>;
  inject(opts: InjectOptions): Promise<LightMyRequestResponse>;
  /** Creates a staff account with TEST_PASSWORD and logs it in; returns its bearer token. */
  loginAs(role: Role, email?: string): Promise<{ token: string; userId: string; cookie: string }>;
}

export async function bootTestApp(opts: { clock?: Clock; env?: Record<string, string>; onDisk?: boolean; logger?: Logger } = {}): Promise<TestApp> {
  const fresh = await freshDatabaseEnv({ onDisk: opts.onDisk });
  return openTestApp({ ...fresh.env, ...opts.env }, { ...opts, cleanup: fresh.cleanup });
}

let image: Blob | undefined;
/** The migrated embedded database the global setup prepared (test/helpers/pglite-image.ts), read once per worker. */
function migratedImage(): Blob | undefined {
  const file = process.env.KQ_TEST_PGLITE_IMAGE;
  if (!file || !existsSync(file)) return undefined;
  image ??= new Blob([readFileSync(file)]);
  return image;
}

/** The app on an existing database (a child process reopening what a test created); `cleanup` drops it on close. */
export async function openTestApp(env: Record<string, string>, opts: { clock?: Clock; onDisk?: boolean; logger?: Logger; cleanup?: () => Promise<void> } = {}): Promise<TestApp> {
  const config = loadConfig(env);
  const platform = await openPlatform(config, { inMemory: !opts.onDisk, clock: opts.clock, logger: opts.logger, databaseImage: opts.onDisk || config.databaseUrl ? undefined : migratedImage() });
  const services = createServices(platform);
  const app = await buildApp(platform, services);
  await app.ready();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.close();
    await closePlatform(platform);
  };
  let n = 0;
  return {
    app,
    platform,
    services,
    config,
    env,
    stop,
    async close() {
      await stop();
      await opts.cleanup?.();
    },
    inject: (o) => app.inject(o),
    async loginAs(role, email) {
      const address = email ?? `${role}-${++n}-${randomBytes(3).toString('hex')}@test.local`;
      const user = await services.auth.createStaff({ email: address, name: role, role, password: TEST_PASSWORD }, null);
      const res = await app.inject({ method: 'POST', url: '/admin/auth/login', payload: { email: address, password: TEST_PASSWORD }, remoteAddress: `198.51.100.${n % 250}`, headers: { 'x-device-id': `test-device-${address}` } });
      if (res.statusCode !== 200) throw new Error(`login as ${role} failed: ${res.body}`);
      const cookie = res.cookies.find((c) => c.name === 'kq_session')!;
      return { token: res.json().token as string, userId: user.id, cookie: `${cookie.name}=${cookie.value}` };
    },
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
