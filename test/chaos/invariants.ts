/**
 * What must hold after every fault, checked with the app's own verifier
 * (`npm run ledger:verify`, run as a process on the chaos database: every
 * ledger transaction balances, cached balances match entries, stock, orders,
 * payments and ledger agree, reservations are held only by open orders) and
 * with chaos-specific checks in SQL and against what the clients and the
 * fakes saw. Each check names its violations; an empty list is a pass.
 */
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import type { FakeWeChatPay } from '../fakes/wechat-pay/server.js';
import type { SupplierSim } from '../fakes/supplier-sim/server.js';
import type { Fixtures } from './fixtures.js';
import { classify, signedPost, type Load } from './load.js';

export interface Check {
  name: string;
  violations: number;
  detail?: string;
}

async function query<R>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query(text, values)).rows as R[];
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The app's own verifier, as a process (exit 0 and one JSON line: every check). */
export function ledgerVerify(env: Record<string, string>): Check[] {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/ledger-verify.ts'], { env: { ...process.env, ...env, LOG_LEVEL: 'silent', JOBS_ENABLED: 'false' }, encoding: 'utf8', timeout: 120_000 });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  let parsed: { ok: boolean; checks: { name: string; ok: boolean; count: number; samples?: unknown[] }[] } | null = null;
  try {
    parsed = JSON.parse(line) as typeof parsed;
  } catch {
    return [{ name: 'ledger:verify ran', violations: 1, detail: `exit ${r.status}: ${(r.stderr || r.stdout).slice(0, 300)}` }];
  }
  const checks = parsed!.checks.map((c) => ({ name: `ledger:verify ${c.name}`, violations: c.ok ? 0 : Math.max(1, c.count), detail: c.ok ? undefined : JSON.stringify(c.samples ?? []).slice(0, 300) }));
  if (r.status !== (parsed!.ok ? 0 : 1)) checks.push({ name: 'ledger:verify exit code', violations: 1, detail: `exit ${r.status}` });
  return checks;
}

export interface CheckContext {
  dbUrl: string;
  appUrl: string;
  fx: Fixtures;
  load: Load;
  wx: FakeWeChatPay;
  sim: SupplierSim;
  /** Final check: every paid notification must have been acknowledged by now. */
  final?: boolean;
}

export async function chaosChecks(ctx: CheckContext): Promise<Check[]> {
  const { dbUrl, fx, load } = ctx;
  const out: Check[] = [];
  const one = async (name: string, text: string, values: unknown[] = []) => {
    const rows = await query<{ n: number; detail: string | null }>(dbUrl, text, values);
    out.push({ name, violations: Number(rows[0]?.n ?? 0), detail: rows[0]?.detail ?? undefined });
  };

  // No code sold twice: per code, sales minus restocks (a refund puts a code back) never above one.
  await one(
    'no code sold twice',
    `select count(*)::int as n, min(code_id) as detail from (
       select code_id from code_events group by code_id
       having count(*) filter (where to_state = 'sold') - count(*) filter (where from_state in ('sold', 'delivered', 'revealed') and to_state = 'available') > 1) x`,
  );
  // Paid means delivered or refunded, not stuck between.
  await one('every paid order delivered or refunded', `select count(*)::int as n, min(id || ' ' || status) as detail from orders where paid_at is not null and status in ('paid', 'fulfilling', 'paid_awaiting_stock', 'failed')`);
  // Dead orders hold nothing: unpaid orders past their deadline (plus the job's minute) are cancelled, their codes released.
  await one('no unpaid order past its deadline still holding codes', `select count(*)::int as n, min(o.id) as detail from orders o where o.status = 'pending_payment' and o.payment_deadline < now() - interval '150 seconds' and exists (select 1 from codes c where c.reserved_by = o.id)`);
  // No code lost: every SKU still has exactly the codes it was stocked with (the supplier SKU: plus those bought).
  const stock = await query<{ sku_id: string; n: number }>(dbUrl, 'select sku_id, count(*)::int as n from codes where sku_id = any($1::text[]) group by sku_id', [Object.keys(fx.startStock)]);
  const bought = await query<{ n: number }>(dbUrl, `select coalesce(sum(quantity), 0)::int as n from supplier_orders where sku_id = $1 and status = 'succeeded'`, [fx.supplierSku]);
  const expected = (sku: string) => fx.startStock[sku]! + (sku === fx.supplierSku ? Number(bought[0]!.n) : 0);
  const lost = stock.filter((s) => s.n !== expected(s.sku_id));
  out.push({ name: 'no code lost or created (per SKU)', violations: lost.length, detail: lost.map((s) => `${s.sku_id}: ${s.n} != ${expected(s.sku_id)}`).join('; ') || undefined });

  // Flash sale: never more than its units, one per buyer.
  const [flash] = await query<{ units: number; buyers: number; n: number }>(dbUrl, `select coalesce(sum(quantity), 0)::int as units, count(distinct buyer_id)::int as buyers, count(*)::int as n from orders where offer_kind = 'flash_sale' and offer_id = $1 and status not in ('cancelled', 'refunded')`, [fx.flashSaleId]);
  out.push({ name: `flash sale not oversold (sold ${flash!.units}/${fx.flashUnits})`, violations: Math.max(0, flash!.units - fx.flashUnits) + (flash!.n - flash!.buyers) });

  // What the clients were told: every acknowledged order exists and is delivered; no code went to two orders.
  const acked = [...new Set(load.orderByKey.values())];
  const rows = await query<{ id: string; status: string }>(dbUrl, 'select id, status from orders where id = any($1::text[])', [acked]);
  const status = new Map(rows.map((r) => [r.id, r.status]));
  const missing = acked.filter((id) => !status.has(id));
  const undelivered = acked.filter((id) => status.has(id) && !['delivered', 'refunded', 'partially_refunded'].includes(status.get(id)!));
  out.push({ name: `acknowledged orders exist and are delivered (${acked.length})`, violations: missing.length + undelivered.length, detail: [...missing.slice(0, 3), ...undelivered.slice(0, 3).map((id) => `${id}:${status.get(id)}`)].join(' ') || undefined });
  const owner = new Map<string, string>();
  let shared = 0;
  for (const [order, codes] of load.codesByOrder) {
    for (const code of codes) {
      const prev = owner.get(code);
      if (prev && prev !== order) shared++;
      owner.set(code, order);
    }
  }
  out.push({ name: `no code handed to two clients (${owner.size} codes seen)`, violations: shared });

  // Idempotency across faults: a sample of answered keys, sent again, names the same order.
  const sample = [...load.sent.values()].slice(-15);
  let differ = 0;
  for (const u of sample) {
    const a = await signedPost(ctx.appUrl, u.key, u.path, u.payload, u.idempotencyKey);
    const again = (a.body?.order as { id?: string } | undefined)?.id;
    if (classify(a).outcome !== 'ok' || again !== load.orderByKey.get(u.idempotencyKey)) differ++;
  }
  out.push({ name: `retried keys answer the same order (${sample.length})`, violations: differ });

  // WeChat Pay: every payment WeChat holds as paid (and acknowledged) is applied once; its order delivered or refunded.
  const paid = [...load.trades.entries()].filter(([, t]) => t.acked || ctx.final);
  const pays = await query<{ trade_no: string; status: string; amount_fen: number; order_status: string }>(
    dbUrl,
    'select p.trade_no, p.status, p.amount_fen, o.status as order_status from payments p join orders o on o.id = p.order_id where p.trade_no = any($1::text[])',
    [paid.map(([no]) => no)],
  );
  const byTrade = new Map(pays.map((p) => [p.trade_no, p]));
  const wrong = paid.filter(([no]) => {
    const p = byTrade.get(no);
    const w = ctx.wx.transactions.get(no);
    return !p || p.status !== 'succeeded' || !w || w.state !== 'SUCCESS' || w.totalFen !== Number(p.amount_fen) || !['delivered', 'refunded', 'partially_refunded'].includes(p.order_status);
  });
  out.push({ name: `WeChat payments applied, orders delivered or refunded (${paid.length})`, violations: wrong.length, detail: wrong.slice(0, 3).map(([no]) => `${no}:${byTrade.get(no)?.status}/${byTrade.get(no)?.order_status}`).join(' ') || undefined });
  await one('each trade applied once', `select count(*)::int as n, min(trade_no) as detail from (select trade_no from payment_notifications where outcome = 'applied' group by trade_no having count(*) > 1) x`);
  if (ctx.final) {
    const unacked = [...load.trades.values()].filter((t) => t.paid && !t.acked).length;
    out.push({ name: 'every WeChat notification acknowledged in the end', violations: unacked });
  }

  // Supplier: one of our references is bought at most once at the supplier; what it delivered is in the vault once.
  const tries = await query<{ purchase_id: string; external_ref: string; status: string; quantity: number }>(dbUrl, 'select purchase_id, external_ref, status, quantity from supplier_orders');
  const simOrders = new Map(ctx.sim.control.orders().map((o) => [o.ref, o]));
  const perPurchase = new Map<string, number>();
  for (const t of tries) if (simOrders.get(t.external_ref)?.status === 'succeeded') perPurchase.set(t.purchase_id, (perPurchase.get(t.purchase_id) ?? 0) + 1);
  const twice = [...perPurchase.values()].filter((n) => n > 1).length;
  const mismatched = tries.filter((t) => {
    const s = simOrders.get(t.external_ref);
    // Settled on our side: succeeded exactly when the supplier charged (a failure it charged for is paid stock lost).
    if (t.status === 'succeeded' || t.status === 'failed') return (t.status === 'succeeded') !== (s?.status === 'succeeded');
    return Boolean(ctx.final);
  });
  out.push({ name: `supplier: bought at most once per purchase, our state matches the supplier's (${tries.length} tries)`, violations: twice + mismatched.length, detail: mismatched.slice(0, 3).map((t) => `${t.external_ref}: ours ${t.status}, sim ${simOrders.get(t.external_ref)?.status}`).join(' ') || undefined });
  return out;
}
