import { seededRandom } from '../../../src/lib/seeded-random.js';
/**
 * The simulated supplier's books: catalogue, balance, orders and the
 * behaviours that make it misbehave. No I/O here; server.ts puts HTTP and
 * callbacks around it.
 */

export type SimRoute = 'products' | 'balance' | 'orders' | 'query';
/** A probability 0..1, for every route or per route. */
export type Rate = number | Partial<Record<SimRoute, number>>;

export interface SimBehaviour {
  latencyMs: { min: number; max: number };
  /** Answer HTTP 500 (an order is not taken). */
  errorRate: Rate;
  /** Never answer within the client's timeout: hold the request for hangMs, then drop it. */
  timeoutRate: Rate;
  /** Whether an order request that "times out" was taken before the supplier went silent. */
  timeoutTakesOrder: boolean;
  hangMs: number;
  /** Orders for these SKUs fail with error "out_of_stock". */
  outOfStockSkus: string[];
  /** Orders answer "pending" and settle asyncDelayMs later, with a callback. */
  asyncMode: boolean;
  asyncDelayMs: number;
  /** Each callback is sent this many times, all at once. */
  duplicateCallbacks: number;
  /** Extra delay between settling an order and calling back. */
  lateCallbackMs: number;
  /** Settle without calling back (the platform has to poll); resendCallback still sends. */
  muteCallbacks: boolean;
}

export const defaultBehaviour: SimBehaviour = {
  latencyMs: { min: 0, max: 0 },
  errorRate: 0,
  timeoutRate: 0,
  timeoutTakesOrder: true,
  hangMs: 30_000,
  outOfStockSkus: [],
  asyncMode: false,
  asyncDelayMs: 50,
  duplicateCallbacks: 1,
  lateCallbackMs: 0,
  muteCallbacks: false,
};

export interface SimProductInput {
  sku: string;
  name?: string;
  costFen?: number;
  stock?: number;
  available?: boolean;
  /** code: a succeeded order carries fresh codes; topup: no codes. */
  kind?: 'code' | 'topup';
}

export interface SimProduct {
  sku: string;
  name: string;
  costFen: number;
  stock: number;
  available: boolean;
  kind: 'code' | 'topup';
  updatedAt: string;
  /** Change counter behind the opaque sync cursor. */
  version: number;
}

export interface SimCode {
  card_number: string;
  secret: string;
  expires_at: string;
}

export interface SimOrder {
  ref: string;
  order_id: string;
  sku: string;
  quantity: number;
  account?: string;
  callbackUrl?: string;
  status: 'pending' | 'succeeded' | 'failed';
  cost_fen: number;
  codes?: SimCode[];
  error?: string;
}

export { seededRandom };

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

export class SimBooks {
  behaviour: SimBehaviour;
  balanceFen: number;
  readonly products = new Map<string, SimProduct>();
  readonly orders = new Map<string, SimOrder>();
  /** How many order requests arrived per ref (a retry with the same ref is not a purchase). */
  readonly placeCalls = new Map<string, number>();
  /** Orders that actually charged the balance. */
  purchases = 0;
  private version = 0;
  private orderSeq = 0;

  constructor(
    readonly random: () => number,
    private readonly now: () => number,
    behaviour: Partial<SimBehaviour>,
    balanceFen: number,
    products: SimProductInput[],
  ) {
    this.behaviour = { ...defaultBehaviour, ...behaviour };
    this.balanceFen = balanceFen;
    for (const p of products) this.setProduct(p.sku, p);
  }

  rate(kind: 'errorRate' | 'timeoutRate', route: SimRoute): boolean {
    const r = this.behaviour[kind];
    const p = typeof r === 'number' ? r : (r[route] ?? 0);
    return p > 0 && this.random() < p;
  }

  latency(): number {
    const { min, max } = this.behaviour.latencyMs;
    return Math.round(min + (max - min) * this.random());
  }

  /** Creates or changes a product; any change bumps updated_at so incremental sync sees it. */
  setProduct(sku: string, patch: Omit<SimProductInput, 'sku'>): SimProduct {
    const current = this.products.get(sku);
    const next: SimProduct = {
      sku,
      name: patch.name ?? current?.name ?? sku,
      costFen: patch.costFen ?? current?.costFen ?? 100,
      stock: patch.stock ?? current?.stock ?? 1000,
      available: patch.available ?? current?.available ?? true,
      kind: patch.kind ?? current?.kind ?? 'code',
      updatedAt: new Date(this.now()).toISOString(),
      version: ++this.version,
    };
    this.products.set(sku, next);
    return next;
  }

  /** Items changed after the cursor, and the cursor that covers them. */
  changedSince(cursor: string | null): { products: SimProduct[]; cursor: string } {
    const since = cursor && /^v\d+$/.test(cursor) ? Number(cursor.slice(1)) : 0;
    const products = [...this.products.values()].filter((p) => p.version > since).sort((a, b) => a.version - b.version);
    return { products, cursor: `v${this.version}` };
  }

  /** Takes an order (idempotent on ref); `created` says whether it is new. */
  take(req: { ref: string; sku: string; quantity: number; account?: string; callbackUrl?: string }): { order: SimOrder; created: boolean } {
    this.placeCalls.set(req.ref, (this.placeCalls.get(req.ref) ?? 0) + 1);
    const existing = this.orders.get(req.ref);
    if (existing) return { order: existing, created: false };
    const product = this.products.get(req.sku)!;
    const order: SimOrder = {
      ref: req.ref,
      order_id: `SIM${String(++this.orderSeq).padStart(8, '0')}`,
      sku: req.sku,
      quantity: req.quantity,
      account: req.account,
      callbackUrl: req.callbackUrl,
      status: 'pending',
      cost_fen: product.costFen,
    };
    this.orders.set(req.ref, order);
    return { order, created: true };
  }

  /** Decides a pending order: stock and balance are checked and charged now. */
  settle(order: SimOrder, outcome?: 'succeeded' | 'failed'): void {
    if (order.status !== 'pending') return;
    const product = this.products.get(order.sku);
    if (outcome === 'failed') return this.fail(order, 'rejected');
    if (!product || !product.available || product.stock < order.quantity || this.behaviour.outOfStockSkus.includes(order.sku)) return this.fail(order, 'out_of_stock');
    const total = product.costFen * order.quantity;
    if (this.balanceFen < total) return this.fail(order, 'insufficient_balance');
    this.balanceFen -= total;
    this.purchases += 1;
    order.cost_fen = product.costFen;
    order.status = 'succeeded';
    if (product.kind === 'code') order.codes = Array.from({ length: order.quantity }, () => this.freshCode());
    this.setProduct(product.sku, { stock: product.stock - order.quantity });
  }

  private fail(order: SimOrder, error: string) {
    order.status = 'failed';
    order.error = error;
    order.cost_fen = 0;
  }

  private freshCode(): SimCode {
    const pick = (n: number, chars: string) => Array.from({ length: n }, () => chars[Math.floor(this.random() * chars.length)]).join('');
    return {
      card_number: pick(16, '0123456789'),
      secret: pick(16, ALPHABET),
      expires_at: new Date(this.now() + 365 * 86_400_000).toISOString(),
    };
  }
}

/** The order as the protocol shows it. */
export function orderJson(o: SimOrder) {
  return {
    ref: o.ref,
    order_id: o.order_id,
    status: o.status,
    cost_fen: o.cost_fen,
    ...(o.codes ? { codes: o.codes } : {}),
    ...(o.error ? { error: o.error } : {}),
  };
}

export function productJson(p: SimProduct) {
  return { sku: p.sku, name: p.name, cost_fen: p.costFen, stock: p.stock, available: p.available, updated_at: p.updatedAt };
}
