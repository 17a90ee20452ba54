import type { Clock } from '../../lib/clock.js';
import { hmacSha256Hex, safeEqual } from '../../lib/crypto.js';
import {
  SupplierCallError,
  SupplierUncertainError,
  type DeliveredCode,
  type PlaceOrderRequest,
  type SupplierAdapter,
  type SupplierOrderState,
  type SupplierProduct,
  type VerifiedCallback,
} from './adapter.js';
import { assertSupplierUrl } from './url-policy.js';

/**
 * The "http_json" protocol (the simulator in test/fakes/supplier-sim speaks it):
 *
 *   Authorization: Bearer <apiKey>; JSON bodies; money in integer fen.
 *   GET  /api/products?since=<cursor> -> { products: [{ sku, name, cost_fen, stock, available, updated_at }], cursor }
 *   GET  /api/balance                 -> { balance_fen }
 *   POST /api/orders { ref, sku, quantity, account?, callback_url? } -> order (idempotent on ref)
 *   GET  /api/orders/<ref>            -> order, or 404 { error: "not_found" }
 *   order = { ref, order_id, status: pending|succeeded|failed, cost_fen, codes?: [{ card_number?, secret, expires_at? }], error? }
 *     cost_fen is the unit cost charged; the supplier's balance drops by cost_fen x quantity.
 *   Callback: POST <callback_url>, body = order, X-Supplier-Timestamp (unix s),
 *     X-Supplier-Signature = hex HMAC-SHA256(callbackSecret, `${timestamp}.${rawBody}`).
 */
export interface HttpJsonAdapterOptions {
  baseUrl: string;
  apiKey: string;
  callbackSecret: string;
  timeoutMs: number;
  clock: Clock;
  /** Hosts the base URL may point at (see url-policy.ts); undefined allows any. */
  allowedHosts?: string[];
  /** Callbacks whose timestamp is further than this from the clock are refused. */
  callbackToleranceSeconds?: number;
}

export const CALLBACK_TOLERANCE_SECONDS = 300;

/** A reply we could not make sense of. */
class BadReply extends Error {}

export function createHttpJsonAdapter(o: HttpJsonAdapterOptions): SupplierAdapter {
  const base = assertSupplierUrl(o.baseUrl, o.allowedHosts);
  const tolerance = o.callbackToleranceSeconds ?? CALLBACK_TOLERANCE_SECONDS;

  /**
   * One request. Returns status and parsed JSON (null when the body is not
   * JSON). Timeouts and network failures become SupplierUncertainError: the
   * request may have been acted on. Messages never carry the API key.
   */
  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const url = new URL(path, base);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${o.apiKey}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(o.timeoutMs),
        redirect: 'error',
      });
      // The timeout covers the body too: a supplier that stalls mid-reply is as uncertain as one that never answers.
      text = await res.text();
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
      throw new SupplierUncertainError(timedOut ? `${method} ${url.pathname}: no answer within ${o.timeoutMs} ms` : `${method} ${url.pathname}: network error${cause}`);
    }
    let json: unknown = null;
    try {
      json = text ? (JSON.parse(text) as unknown) : null;
    } catch {
      json = null;
    }
    return { status: res.status, json };
  }

  function refused(method: string, path: string, status: number, json: unknown): SupplierCallError {
    const reason = isRecord(json) && typeof json.error === 'string' ? `: ${json.error.slice(0, 200)}` : '';
    return new SupplierCallError(`${method} ${path} answered ${status}${reason}`);
  }

  /** Reads (listing, balance, order query): anything but a clean 2xx is a refused call. */
  async function read<T>(path: string, parse: (json: unknown) => T): Promise<T> {
    const { status, json } = await call('GET', path);
    if (status < 200 || status >= 300) throw refused('GET', path.split('?')[0]!, status, json);
    try {
      return parse(json);
    } catch (err) {
      throw new SupplierCallError(`GET ${path.split('?')[0]}: unreadable reply (${(err as Error).message})`);
    }
  }

  return {
    async listProducts(sinceCursor) {
      const path = sinceCursor ? `api/products?since=${encodeURIComponent(sinceCursor)}` : 'api/products';
      return read(path, (json) => {
        const r = record(json, 'reply');
        if (!Array.isArray(r.products)) throw new BadReply('products is not a list');
        return { products: r.products.map(parseProduct), cursor: str(r.cursor, 'cursor') };
      });
    },

    async balance() {
      return read('api/balance', (json) => ({ balanceFen: fen(record(json, 'reply').balance_fen, 'balance_fen') }));
    },

    async placeOrder(req: PlaceOrderRequest) {
      const body = { ref: req.externalRef, sku: req.externalSku, quantity: req.quantity, ...(req.account ? { account: req.account } : {}), ...(req.callbackUrl ? { callback_url: req.callbackUrl } : {}) };
      const { status, json } = await call('POST', 'api/orders', body);
      // A 5xx may come from a supplier that took the order and then failed to answer.
      if (status >= 500) throw new SupplierUncertainError(`POST /api/orders answered ${status}`);
      if (status < 200 || status >= 300) throw refused('POST', '/api/orders', status, json);
      try {
        const order = parseOrder(json);
        if (order.ref !== req.externalRef) throw new BadReply(`reply is for ref ${order.ref}`);
        return order.state;
      } catch (err) {
        throw new SupplierUncertainError(`POST /api/orders: unreadable reply (${(err as Error).message})`);
      }
    },

    async queryOrder(externalRef: string) {
      const path = `api/orders/${encodeURIComponent(externalRef)}`;
      const { status, json } = await call('GET', path);
      if (status === 404 && isRecord(json) && json.error === 'not_found') return { status: 'not_found' };
      if (status < 200 || status >= 300) throw refused('GET', '/api/orders/:ref', status, json);
      try {
        const order = parseOrder(json);
        if (order.ref !== externalRef) throw new BadReply(`reply is for ref ${order.ref}`);
        return order.state;
      } catch (err) {
        throw new SupplierCallError(`GET /api/orders/:ref: unreadable reply (${(err as Error).message})`);
      }
    },

    verifyCallback(headers, rawBody): VerifiedCallback | null {
      const h = lowerCased(headers);
      const timestamp = h['x-supplier-timestamp'];
      const signature = h['x-supplier-signature'];
      if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp) || !/^[0-9a-fA-F]{64}$/.test(signature)) return null;
      const skew = Math.abs(Math.floor(o.clock.now().getTime() / 1000) - Number(timestamp));
      if (skew > tolerance) return null;
      if (!safeEqual(hmacSha256Hex(o.callbackSecret, `${timestamp}.${rawBody}`), signature.toLowerCase())) return null;
      try {
        const order = parseOrder(JSON.parse(rawBody) as unknown);
        return { externalRef: order.ref, state: order.state };
      } catch {
        return null;
      }
    },
  };
}

/** The signature a supplier puts on a callback (also what a client of this protocol uses to sign). */
export function signSupplierCallback(callbackSecret: string, timestamp: number, rawBody: string): string {
  return hmacSha256Hex(callbackSecret, `${timestamp}.${rawBody}`);
}

function lowerCased(headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = Array.isArray(v) ? v[0] : v;
  return out;
}

// ---- reply parsing: supplier data is outside input, checked field by field ----

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function record(v: unknown, what: string): Record<string, unknown> {
  if (!isRecord(v)) throw new BadReply(`${what} is not an object`);
  return v;
}
function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new BadReply(`${what} is not a string`);
  return v;
}
function fen(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new BadReply(`${what} is not a whole number of fen`);
  return v;
}
function optStr(v: unknown, what: string): string | undefined {
  return v === undefined || v === null ? undefined : str(v, what);
}

function parseProduct(v: unknown, i: number): SupplierProduct {
  const r = record(v, `products.${i}`);
  if (typeof r.available !== 'boolean') throw new BadReply(`products.${i}.available is not a boolean`);
  return {
    externalSku: str(r.sku, `products.${i}.sku`),
    name: str(r.name, `products.${i}.name`),
    costFen: fen(r.cost_fen, `products.${i}.cost_fen`),
    stock: fen(r.stock, `products.${i}.stock`),
    available: r.available,
    updatedAt: str(r.updated_at, `products.${i}.updated_at`),
  };
}

const orderStatuses = ['pending', 'succeeded', 'failed'] as const;

function parseOrder(v: unknown): { ref: string; state: SupplierOrderState } {
  const r = record(v, 'order');
  const status = orderStatuses.find((s) => s === r.status);
  if (!status) throw new BadReply('order status is not pending, succeeded or failed');
  let codes: DeliveredCode[] | undefined;
  if (r.codes !== undefined && r.codes !== null) {
    if (!Array.isArray(r.codes)) throw new BadReply('codes is not a list');
    codes = r.codes.map((c: unknown, i: number) => {
      const cr = record(c, `codes.${i}`);
      const code: DeliveredCode = { secret: str(cr.secret, `codes.${i}.secret`) };
      const cardNumber = optStr(cr.card_number, `codes.${i}.card_number`);
      const expiresAt = optStr(cr.expires_at, `codes.${i}.expires_at`);
      if (cardNumber !== undefined) code.cardNumber = cardNumber;
      if (expiresAt !== undefined) code.expiresAt = expiresAt;
      return code;
    });
  }
  const state: SupplierOrderState = { status };
  const orderId = optStr(r.order_id, 'order_id');
  if (orderId !== undefined) state.supplierOrderId = orderId;
  if (r.cost_fen !== undefined && r.cost_fen !== null) state.costFen = fen(r.cost_fen, 'cost_fen');
  if (codes) state.codes = codes;
  const error = optStr(r.error, 'error');
  if (error !== undefined) state.error = error.slice(0, 500);
  return { ref: str(r.ref, 'ref'), state };
}
