/**
 * The chaos run's own PostgreSQL cluster and Redis server, in a temporary
 * directory on free ports: the machine's shared servers are never touched.
 * PostgreSQL runs as the `postgres` OS user (initdb refuses root), trust auth
 * on 127.0.0.1 only.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { freePort } from '../helpers/ports.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const PG_BIN = process.env.CHAOS_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function asPostgres(args: string[], opts: { allowFail?: boolean } = {}) {
  const r = spawnSync('runuser', ['-u', 'postgres', '--', ...args], { encoding: 'utf8' });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${args[0]} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r;
}

export interface PrivatePostgres {
  port: number;
  adminUrl: string;
  /** pg_ctl restart -m immediate: every backend killed, crash recovery on start. */
  restartImmediate(): Promise<void>;
  stop(): void;
}

export async function startPostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'kq-chaos-pg-'));
  chmodSync(dir, 0o700);
  const pgUid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const pgGid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  chownSync(dir, pgUid, pgGid);
  const data = join(dir, 'data');
  const port = await freePort();
  asPostgres([`${PG_BIN}/initdb`, '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  // fsync off: an immediate restart kills processes, not the OS, so the page cache survives and the test stays fast.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const ctl = (...args: string[]) => asPostgres([`${PG_BIN}/pg_ctl`, '-D', data, '-l', join(dir, 'log'), '-o', options, '-w', '-t', '60', ...args]);
  ctl('start');
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let stopped = false;
  return {
    port,
    adminUrl,
    async restartImmediate() {
      ctl('restart', '-m', 'immediate');
      await waitForPostgres(adminUrl);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      asPostgres([`${PG_BIN}/pg_ctl`, '-D', data, 'stop', '-m', 'immediate', '-w'], { allowFail: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPostgres(url: string) {
  for (let i = 0; i < 120; i++) {
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      await c.query('select 1');
      await c.end();
      return;
    } catch {
      await c.end().catch(() => undefined);
      await sleep(250);
    }
  }
  throw new Error('PostgreSQL did not come back within 30 s');
}

export interface PrivateRedis {
  port: number;
  url: string;
  running(): boolean;
  /** Killed (SIGKILL): an outage, not a shutdown. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops for good and removes its directory. */
  destroy(): Promise<void>;
}

export async function startRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'kq-chaos-redis-'));
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      const ok = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG';
      if (ok) return;
      await sleep(100);
    }
    throw new Error('redis-server did not start');
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await exited;
    child = null;
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    running: () => child !== null && child.exitCode === null,
    start,
    stop,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
