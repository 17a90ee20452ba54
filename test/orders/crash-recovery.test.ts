import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { freshDatabaseEnv, realServers } from '../helpers/boot.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { signSandboxNotification } from '../../src/modules/payments/sandbox.js';
import type { OrderServerFixture } from '../helpers/order-server.js';

/**
 * A process killed (SIGKILL) in the middle of selling and started again on
 * the same database: every order is delivered exactly once, no code twice,
 * and the books agree. Runs on the embedded default (PGlite on disk) and on
 * real PostgreSQL.
 */

interface Server {
  child: ChildProcess;
  address: string;
  fixture: OrderServerFixture;
  lines: Interface;
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/order-server.ts'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let errors = '';
  child.stderr!.on('data', (d) => (errors += d));
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`order server did not start:\n${errors}`)), 90_000);
    lines.once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`order server exited with ${code}:\n${errors}`)));
  });
  const { address, fixture } = JSON.parse(first) as { address: string; fixture: OrderServerFixture };
  return { child, address, fixture, lines };
}

const killHard = (s: Server) =>
  new Promise<void>((resolve) => {
    if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
    s.child.once('exit', () => resolve());
    s.child.kill('SIGKILL');
  });

async function check(s: Server) {
  const answer = new Promise<string>((resolve) => s.lines.once('line', resolve));
  s.child.stdin!.write('check\n');
  return JSON.parse(await answer) as { ok: boolean; failed: { name: string }[]; orders: number; units: number; sold: number; available: number; reserved: number };
}

interface OrderResponse {
  status: number;
  body: { order?: { id: string; status: string; delivered_quantity: number }; codes?: { code_id: string; secret: string }[]; payment?: { trade_no: string; amount_fen: number }; error?: unknown };
}

async function placeOrder(s: Server, key: string, body: Record<string, unknown>): Promise<OrderResponse> {
  const raw = JSON.stringify(body);
  const res = await fetch(`${s.address}/open/v1/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key, ...signedHeaders(s.fixture.key.id, s.fixture.key.secret, 'POST', '/open/v1/orders', raw) },
    body: raw,
  });
  return { status: res.status, body: (await res.json()) as OrderResponse['body'] };
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function freshServerEnv(): Promise<Record<string, string>> {
  const fresh = await freshDatabaseEnv({ onDisk: true });
  cleanups.push(fresh.cleanup);
  // No risk rules: 40 orders of one agent within seconds are what the velocity rules challenge; this test is about crashes.
  return { ...fresh.env, SANDBOX_PAYMENTS: 'true', FIXTURE_STOCK: '200', RISK_SEED_RULES: 'false' };
}

describe(`a process killed while selling (${realServers ? 'real PostgreSQL' : 'embedded PGlite on disk'})`, () => {
  it('retried orders after a restart are each delivered exactly once, with the codes first handed out', async () => {
    const env = await freshServerEnv();
    let server = await startServer(env);
    cleanups.push(() => killHard(server));
    const keys = Array.from({ length: 40 }, (_, i) => `crash-${i}-${randomUUID()}`);
    const body = { sku_id: server.fixture.sku, quantity: 2, payment: 'balance' };

    // Orders in flight, 8 at a time; the process is killed after the 12th answer, mid-stream.
    const before = new Map<string, OrderResponse>();
    let next = 0;
    const killed = new Promise<void>((resolve) => {
      const worker = async () => {
        while (next < keys.length) {
          const key = keys[next++]!;
          try {
            const r = await placeOrder(server, key, body);
            before.set(key, r);
            if (before.size === 12) resolve(killHard(server));
          } catch {
            return; // connection reset by the kill
          }
        }
      };
      void Promise.all(Array.from({ length: 8 }, worker)).then(() => resolve());
    });
    await killed;
    const answeredBefore = [...before.values()].filter((r) => r.status === 201);
    expect(answeredBefore.length).toBeGreaterThanOrEqual(12);
    expect(answeredBefore.length).toBeLessThan(keys.length);

    server = await startServer(env);
    // Every client retries every order with its key, twice, the second time concurrently.
    const after = new Map<string, OrderResponse>();
    for (const key of keys) after.set(key, await placeOrder(server, key, body));
    const again = await Promise.all(keys.map((key) => placeOrder(server, key, body)));

    const orderIds = new Set<string>();
    const codeIds = new Set<string>();
    const secrets = new Set<string>();
    for (const [i, key] of keys.entries()) {
      const r = after.get(key)!;
      expect([200, 201], JSON.stringify(r.body)).toContain(r.status);
      expect(r.body.order!.status).toBe('delivered');
      expect(r.body.codes).toHaveLength(2);
      orderIds.add(r.body.order!.id);
      for (const c of r.body.codes!) {
        codeIds.add(c.code_id);
        secrets.add(c.secret);
      }
      // What a client was told before the crash is what it is told after: same order, same codes.
      const earlier = before.get(key);
      if (earlier?.status === 201) {
        expect(r.status).toBe(200);
        expect(r.body.order!.id).toBe(earlier.body.order!.id);
        expect(r.body.codes!.map((c) => c.secret).sort()).toEqual(earlier.body.codes!.map((c) => c.secret).sort());
      }
      expect(again[i]!.status).toBe(200);
      expect(again[i]!.body.order!.id).toBe(r.body.order!.id);
    }
    expect(orderIds.size).toBe(keys.length);
    expect(codeIds.size).toBe(keys.length * 2);
    expect(secrets.size).toBe(keys.length * 2);

    const books = await check(server);
    expect(books.failed).toEqual([]);
    expect(books).toMatchObject({ ok: true, orders: keys.length, units: keys.length * 2, sold: keys.length * 2, available: server.fixture.stock - keys.length * 2, reserved: 0 });
  });

  it.runIf(realServers)('a payment callback whose fulfilment was killed half-way is applied once when the provider sends it again', async () => {
    const env = await freshServerEnv();
    let server = await startServer(env);
    cleanups.push(() => killHard(server));
    const placed = await placeOrder(server, `ext-${randomUUID()}`, { sku_id: server.fixture.sku, quantity: 3, payment: 'sandbox' });
    expect(placed.status).toBe(201);
    expect(placed.body.order!.status).toBe('pending_payment');
    const payment = placed.body.payment!;
    const notify = () => {
      const n = signSandboxNotification(server.fixture.sandboxSecret, { trade_no: payment.trade_no, amount_fen: payment.amount_fen, status: 'succeeded', txn_id: 'sandbox-txn-1' }, new Date());
      return fetch(`${server.address}/payments/notify/sandbox`, { method: 'POST', headers: n.headers, body: n.body });
    };

    // Hold the table the fulfilment writes the codes' history to: the callback's transaction stops in the
    // middle of selling the codes (payment marked, money posted, order paid), and the process dies there.
    const blocker = new pg.Client({ connectionString: env.DATABASE_URL });
    await blocker.connect();
    cleanups.push(() => blocker.end());
    // pg_stat_activity is read from another connection: inside a transaction it is a snapshot taken once.
    const monitor = new pg.Client({ connectionString: env.DATABASE_URL });
    await monitor.connect();
    cleanups.push(() => monitor.end());
    await blocker.query('begin');
    await blocker.query('lock table code_events in share row exclusive mode');
    const inFlight = notify().catch(() => null);
    let waiting = 0;
    for (let i = 0; i < 200 && waiting === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const rows = await monitor.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%code_events%'`);
      waiting = rows.rows[0]!.n;
    }
    if (waiting !== 1) {
      const done = await Promise.race([inFlight, new Promise((r) => setTimeout(() => r('still running'), 100))]);
      const activity = await monitor.query(`select state, wait_event_type, left(query, 120) as q from pg_stat_activity where datname = current_database()`);
      throw new Error(`the callback did not stop at the lock: ${done instanceof Response ? `${done.status} ${await done.text()}` : String(done)} ${JSON.stringify(activity.rows)}`);
    }
    await killHard(server);
    expect(await inFlight).toBeNull();
    // Released, the dead process' backend finishes its statement, finds its client gone and rolls back.
    await blocker.query('commit');
    for (let i = 0; i < 200; i++) {
      const rows = await monitor.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where datname = current_database() and pid not in (pg_backend_pid(), $1)`, [(blocker as unknown as { processID: number }).processID]);
      if (rows.rows[0]!.n === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const state = await blocker.query<{ status: string; paid: string }>(
      `select o.status, p.status as paid from orders o join payments p on p.order_id = o.id where o.id = $1`,
      [placed.body.order!.id],
    );
    expect(state.rows[0]).toEqual({ status: 'pending_payment', paid: 'pending' });

    server = await startServer(env);
    // The provider repeats its callback (it got no answer), and repeats it again.
    const answers = await Promise.all([notify(), notify(), notify()]);
    expect(answers.every((a) => a.status < 300)).toBe(true);
    const outcomes = await blocker.query<{ outcome: string }>(`select outcome from payment_notifications where trade_no = $1 order by received_at`, [payment.trade_no]);
    expect(outcomes.rows.map((r) => r.outcome).sort()).toEqual(['applied', 'duplicate', 'duplicate']);
    const sold = await blocker.query<{ n: number; orders: number }>(`select count(*)::int as n, count(distinct order_id)::int as orders from codes where order_id = $1 and state = 'delivered'`, [placed.body.order!.id]);
    expect(sold.rows[0]).toEqual({ n: 3, orders: 1 });
    const books = await check(server);
    expect(books.failed).toEqual([]);
    expect(books).toMatchObject({ ok: true, orders: 1, units: 3, sold: 3, reserved: 0 });
  });
});
