import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { freshDatabaseEnv } from '../helpers/boot.js';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

function startMain(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not started in time:\n${out}`)), 90_000);
    const check = () => {
      if (out.includes('API docs')) {
        clearTimeout(timer);
        setTimeout(() => resolve(out), 200);
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => reject(new Error(`exited with ${code}:\n${out}`)));
  });
  return { child, ready, output: () => out };
}

const stopChild = (child: ChildProcess) => new Promise<number | null>((resolve) => {
  child.on('exit', (code) => resolve(code));
  child.kill('SIGTERM');
});

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

describe('npm start', () => {
  it('a wrong setting stops the start with one line naming the variable', () => {
    const run = spawnSync('npx', ['tsx', 'src/main.ts'], { env: { ...process.env, PORT: 'eighty', DATABASE_URL: '', REDIS_URL: '' }, encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(78);
    expect(run.stderr.trim().split('\n')).toEqual(['Invalid configuration: PORT must be an integer between 0 and 65535 (got "eighty")']);
  });

  it('starts on a fresh database with demo data, prints logins, restarts without seeding twice', async () => {
    const fresh = await freshDatabaseEnv();
    cleanups.push(fresh.cleanup);
    const port = await freePort();
    const env = { ...fresh.env, PORT: String(port), LOG_LEVEL: 'warn', SESSION_SECRET: '', VAULT_MASTER_KEYS: '', HMAC_KEY: '', DEMO_SUPPLIER_PORT: '0' };
    const first = startMain(env);
    const banner = await first.ready;
    expect(banner).toContain('demo data seeded; logins:');
    const ownerLine = banner.split('\n').find((l) => l.includes('owner@kaquan.local'))!;
    const password = ownerLine.trim().split(/\s+/).at(-1)!;
    const base = `http://127.0.0.1:${port}`;

    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const login = await fetch(`${base}/admin/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-device-id': 'start-test-device' }, body: JSON.stringify({ email: 'owner@kaquan.local', password }) });
    expect(login.status).toBe(200);
    const { token } = (await login.json()) as { token: string };
    const auth = { authorization: `Bearer ${token}` };
    const products = (await (await fetch(`${base}/admin/products`, { headers: auth })).json()) as { data: { kind: string; skus: { available: number }[] }[] };
    expect(products.data).toHaveLength(4);
    expect(products.data.filter((p) => p.kind === 'code').every((p) => p.skus[0]!.available > 0)).toBe(true);
    const agents = (await (await fetch(`${base}/admin/agents`, { headers: auth })).json()) as { data: { depth: number }[] };
    expect(agents.data.map((a) => a.depth).sort()).toEqual([1, 2, 3]);
    // The demo's upstream supplier is the simulator, registered, synced and routed to.
    const suppliers = (await (await fetch(`${base}/admin/suppliers`, { headers: auth })).json()) as { data: { name: string; health: string }[] };
    expect(suppliers.data.map((s) => s.name)).toEqual(['Demo supplier (simulator)']);
    expect(banner).toContain('demo supplier simulator at http://127.0.0.1:');
    expect(await stopChild(first.child)).toBe(0);

    const second = startMain(env);
    const banner2 = await second.ready;
    expect(banner2).toContain('demo logins (from');
    expect(banner2).toContain(password);
    const again = (await (await fetch(`${base}/admin/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-device-id': 'start-test-device' }, body: JSON.stringify({ email: 'owner@kaquan.local', password }) })).json()) as { token: string };
    const products2 = (await (await fetch(`${base}/admin/products`, { headers: { authorization: `Bearer ${again.token}` } })).json()) as { data: unknown[] };
    expect(products2.data).toHaveLength(4);
    expect(await stopChild(second.child)).toBe(0);
  }, 180_000); // two cold starts of the real server; slow when the machine is shared
});
