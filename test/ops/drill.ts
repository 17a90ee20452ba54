import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';

/** A shop to sell from: one SKU with stock, an agent with a balance and its API key. */
export async function seedShop(t: TestApp, stock: number) {
  const sku = await createCodeSku(t, { retailPriceFen: 1_000, costFen: 700 });
  await stockCodes(t, sku, stock);
  const owner = await t.loginAs('owner');
  const agent = await t.services.agents.create({ name: 'drill agent', role: 'group_leader' });
  const credit = await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(owner.token), payload: { buyer_type: 'agent', buyer_id: agent.id, amount_fen: 10_000_000, reference: 'drill' } });
  if (credit.statusCode !== 201 && credit.statusCode !== 200) throw new Error(`credit failed: ${credit.body}`);
  const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner.token), payload: { owner_type: 'agent', owner_id: agent.id, name: 'drill' } })).json() as { id: string; secret: string };
  return { sku, key };
}

export interface Sold {
  orderId: string;
  codes: { code_id: string; secret: string }[];
}

/**
 * A light concurrent load: `workers` clients each placing balance orders of
 * one code, one after another, until stopped. Returns what every client
 * received (the codes it was sold, by order).
 */
export function orderLoad(t: TestApp, shop: { sku: string; key: { id: string; secret: string } }, workers = 4) {
  const sold: Sold[] = [];
  const failures: string[] = [];
  let running = true;
  const body = JSON.stringify({ sku_id: shop.sku, quantity: 1, payment: 'balance' });
  const worker = async () => {
    while (running) {
      const res = await t.inject({
        method: 'POST',
        url: '/open/v1/orders',
        payload: body,
        headers: { 'content-type': 'application/json', 'idempotency-key': `drill-${randomUUID()}`, ...signedHeaders(shop.key.id, shop.key.secret, 'POST', '/open/v1/orders', body) },
      });
      if (res.statusCode === 201) sold.push({ orderId: res.json().order.id as string, codes: res.json().codes as Sold['codes'] });
      else failures.push(`${res.statusCode} ${res.body.slice(0, 200)}`);
      // Light load, not a flood: at most ~20 orders/s per worker, however fast the machine.
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const all = Array.from({ length: workers }, worker);
  return {
    sold,
    failures,
    /** Resolves once at least n orders were sold. */
    async until(n: number, timeoutMs = 20_000) {
      const end = Date.now() + timeoutMs;
      while (sold.length < n) {
        if (Date.now() > end) throw new Error(`only ${sold.length} orders in ${timeoutMs} ms: ${failures.slice(0, 3).join('; ')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      running = false;
      await Promise.all(all);
    },
  };
}

/** Runs one of the CLI tools (`src/cli/<name>.ts`) with exactly this environment. */
export function runCli(name: 'backup' | 'restore', args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `src/cli/${name}.ts`, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Live counts of what a drill sells, to compare a copy with its source. */
export async function salesCounts(t: TestApp, sku: string) {
  const [row] = (
    await t.platform.database.executeSql<{ orders: number; sold: number; available: number; entries: number }>(
      `select (select count(*)::int from orders where sku_id = $1) as orders,
              (select count(*)::int from codes where sku_id = $1 and state in ('sold', 'delivered', 'revealed')) as sold,
              (select count(*)::int from codes where sku_id = $1 and state = 'available') as available,
              (select count(*)::int from ledger_entries) as entries`,
      [sku],
    )
  ).rows;
  return row!;
}
