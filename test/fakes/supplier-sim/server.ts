import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SimBooks, orderJson, productJson, seededRandom, type SimBehaviour, type SimOrder, type SimProduct, type SimProductInput, type SimRoute } from './state.js';

export type { SimBehaviour, SimOrder, SimProduct, SimProductInput } from './state.js';

/**
 * A local supplier speaking the http_json protocol (see
 * src/modules/suppliers/http-json-adapter.ts), with dials for the ways real
 * suppliers fail: latency, 500s, silence, stock-outs, async completion,
 * duplicated and late callbacks, price changes and a draining balance.
 * node:http only; binds 127.0.0.1.
 */
export interface SupplierSimOptions extends Partial<SimBehaviour> {
  /** 0 (default) picks a free port. */
  port?: number;
  apiKey?: string;
  callbackSecret?: string;
  /** Seeds latency, failure draws and generated codes, so runs repeat. */
  seed?: number;
  products?: SimProductInput[];
  balanceFen?: number;
  /** Clock for updated_at and callback timestamps (ms). */
  now?: () => number;
}

export interface CallbackDelivery {
  ref: string;
  copy: number;
  status: number | 'error';
}

export interface SupplierSimControl {
  configure(b: Partial<SimBehaviour>): void;
  behaviour(): SimBehaviour;
  setProduct(sku: string, patch: Omit<SimProductInput, 'sku'>): SimProduct;
  products(): SimProduct[];
  setBalance(fen: number): void;
  balance(): number;
  order(ref: string): SimOrder | undefined;
  orders(): SimOrder[];
  /** Order requests received for a ref (retries included). */
  placeCalls(ref: string): number;
  /** Orders that charged the balance. */
  purchases(): number;
  /** Settles a pending order now and sends its callbacks. */
  settle(ref: string, outcome?: 'succeeded' | 'failed'): Promise<void>;
  /** Sends an order's callback again (optionally skewed in time or signed with another secret); returns the HTTP statuses. */
  resendCallback(ref: string, o?: { copies?: number; timestampOffsetSec?: number; secret?: string }): Promise<(number | 'error')[]>;
  callbacks(): CallbackDelivery[];
  /** Every API request received, as "METHOD /path". */
  requests(): string[];
  /** Resolves when no settlement or callback is scheduled or in flight. */
  waitIdle(): Promise<void>;
}

export interface SupplierSim {
  url: string;
  apiKey: string;
  callbackSecret: string;
  control: SupplierSimControl;
  close(): Promise<void>;
}

export async function startSupplierSim(options: SupplierSimOptions = {}): Promise<SupplierSim> {
  const { port = 0, apiKey = 'sim-api-key', callbackSecret = 'sim-callback-secret', seed = 1, products = [], balanceFen = 1_000_000, now = Date.now, ...behaviour } = options;
  const books = new SimBooks(seededRandom(seed), now, behaviour, balanceFen, products);
  const requests: string[] = [];
  const deliveries: CallbackDelivery[] = [];
  const work = new Set<Promise<unknown>>();
  const timers = new Set<NodeJS.Timeout>();
  const hung = new Set<ServerResponse>();
  let closed = false;

  /** Runs fn after ms, tracked so waitIdle() and close() know about it. */
  function later(ms: number, fn: () => Promise<unknown> | void): Promise<void> {
    const p = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        Promise.resolve()
          .then(fn)
          .catch(() => undefined)
          .finally(resolve);
      }, ms);
      timers.add(timer);
    });
    work.add(p);
    void p.finally(() => work.delete(p));
    return p;
  }

  async function deliver(order: SimOrder, o: { copies?: number; timestampOffsetSec?: number; secret?: string } = {}): Promise<(number | 'error')[]> {
    if (!order.callbackUrl || closed) return [];
    const callbackUrl = order.callbackUrl;
    const body = JSON.stringify(orderJson(order));
    const ts = Math.floor(now() / 1000) + (o.timestampOffsetSec ?? 0);
    const signature = createHmac('sha256', o.secret ?? callbackSecret).update(`${ts}.${body}`).digest('hex');
    const copies = o.copies ?? books.behaviour.duplicateCallbacks;
    // All copies leave at once: the receiver must cope with concurrent duplicates.
    return Promise.all(
      Array.from({ length: copies }, async (_, copy) => {
        let status: number | 'error';
        try {
          const res = await fetch(callbackUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-supplier-timestamp': String(ts), 'x-supplier-signature': signature },
            body,
            signal: AbortSignal.timeout(5000),
          });
          await res.arrayBuffer();
          status = res.status;
        } catch {
          status = 'error';
        }
        deliveries.push({ ref: order.ref, copy, status });
        return status;
      }),
    );
  }

  function finish(order: SimOrder, outcome?: 'succeeded' | 'failed') {
    books.settle(order, outcome);
    if (books.behaviour.muteCallbacks) return Promise.resolve();
    return later(books.behaviour.lateCallbackMs, () => deliver(order));
  }

  function place(body: Record<string, unknown>): { status: number; json: unknown } {
    const { ref, sku, quantity, account, callback_url } = body;
    if (typeof ref !== 'string' || ref.length < 1 || ref.length > 128) return { status: 400, json: { error: 'bad_ref' } };
    if (typeof sku !== 'string' || typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1 || quantity > 1000) return { status: 400, json: { error: 'bad_request' } };
    if (!books.products.has(sku) && !books.orders.has(ref)) return { status: 400, json: { error: 'unknown_sku' } };
    if (callback_url !== undefined && (typeof callback_url !== 'string' || !/^https?:\/\//.test(callback_url))) return { status: 400, json: { error: 'bad_callback_url' } };
    const { order, created } = books.take({ ref, sku, quantity, account: typeof account === 'string' ? account : undefined, callbackUrl: callback_url });
    if (created) {
      if (books.behaviour.asyncMode) void later(books.behaviour.asyncDelayMs, () => finish(order));
      else books.settle(order);
    }
    return { status: 200, json: orderJson(order) };
  }

  function controlRequest(body: Record<string, unknown>): { status: number; json: unknown } {
    if (typeof body.behaviour === 'object' && body.behaviour !== null) books.behaviour = { ...books.behaviour, ...(body.behaviour as Partial<SimBehaviour>) };
    if (Array.isArray(body.products)) {
      for (const p of body.products as Record<string, unknown>[]) {
        if (typeof p.sku !== 'string') return { status: 400, json: { error: 'products[].sku is required' } };
        books.setProduct(p.sku, {
          name: typeof p.name === 'string' ? p.name : undefined,
          costFen: typeof p.cost_fen === 'number' ? p.cost_fen : undefined,
          stock: typeof p.stock === 'number' ? p.stock : undefined,
          available: typeof p.available === 'boolean' ? p.available : undefined,
          kind: p.kind === 'topup' || p.kind === 'code' ? p.kind : undefined,
        });
      }
    }
    if (typeof body.balance_fen === 'number') books.balanceFen = body.balance_fen;
    const settle = body.settle as { ref?: unknown; outcome?: unknown } | undefined;
    if (settle && typeof settle.ref === 'string') {
      const order = books.orders.get(settle.ref);
      if (!order) return { status: 404, json: { error: 'not_found' } };
      void finish(order, settle.outcome === 'failed' ? 'failed' : settle.outcome === 'succeeded' ? 'succeeded' : undefined);
    }
    return { status: 200, json: { behaviour: books.behaviour, balance_fen: books.balanceFen, products: [...books.products.values()].map(productJson), orders: books.orders.size } };
  }

  function routeOf(method: string, path: string): SimRoute | null {
    if (method === 'GET' && path === '/api/products') return 'products';
    if (method === 'GET' && path === '/api/balance') return 'balance';
    if (method === 'POST' && path === '/api/orders') return 'orders';
    if (method === 'GET' && path.startsWith('/api/orders/')) return 'query';
    return null;
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://sim.local');
    const method = req.method ?? 'GET';
    const raw = await readBody(req);
    const send = (status: number, json: unknown) => {
      if (!res.headersSent && !res.destroyed) res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    };
    if (req.headers.authorization !== `Bearer ${apiKey}`) return send(401, { error: 'unauthorized' });
    let body: Record<string, unknown> = {};
    if (raw) {
      try {
        const parsed = JSON.parse(raw) as unknown;
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return send(400, { error: 'body must be an object' });
        body = parsed as Record<string, unknown>;
      } catch {
        return send(400, { error: 'invalid_json' });
      }
    }
    if (method === 'POST' && url.pathname === '/__control') {
      const r = controlRequest(body);
      return send(r.status, r.json);
    }
    const route = routeOf(method, url.pathname);
    requests.push(`${method} ${url.pathname}${url.search}`);
    if (!route) return send(404, { error: 'no_route' });
    const delay = books.latency();
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (books.rate('timeoutRate', route)) {
      if (route === 'orders' && books.behaviour.timeoutTakesOrder) place(body);
      hung.add(res);
      const timer = setTimeout(() => {
        timers.delete(timer);
        hung.delete(res);
        res.destroy();
      }, books.behaviour.hangMs);
      timers.add(timer);
      return;
    }
    if (books.rate('errorRate', route)) return send(500, { error: 'internal' });
    switch (route) {
      case 'products': {
        const changed = books.changedSince(url.searchParams.get('since'));
        return send(200, { products: changed.products.map(productJson), cursor: changed.cursor });
      }
      case 'balance':
        return send(200, { balance_fen: books.balanceFen });
      case 'orders': {
        const r = place(body);
        return send(r.status, r.json);
      }
      case 'query': {
        const order = books.orders.get(decodeURIComponent(url.pathname.slice('/api/orders/'.length)));
        return order ? send(200, orderJson(order)) : send(404, { error: 'not_found' });
      }
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const control: SupplierSimControl = {
    configure: (b) => {
      books.behaviour = { ...books.behaviour, ...b };
    },
    behaviour: () => ({ ...books.behaviour }),
    setProduct: (sku, patch) => books.setProduct(sku, patch),
    products: () => [...books.products.values()],
    setBalance: (fen) => {
      books.balanceFen = fen;
    },
    balance: () => books.balanceFen,
    order: (ref) => books.orders.get(ref),
    orders: () => [...books.orders.values()],
    placeCalls: (ref) => books.placeCalls.get(ref) ?? 0,
    purchases: () => books.purchases,
    async settle(ref, outcome) {
      const order = books.orders.get(ref);
      if (!order) throw new Error(`no order ${ref}`);
      await finish(order, outcome);
    },
    async resendCallback(ref, o) {
      const order = books.orders.get(ref);
      if (!order) throw new Error(`no order ${ref}`);
      return deliver(order, { copies: 1, ...o });
    },
    callbacks: () => [...deliveries],
    requests: () => [...requests],
    async waitIdle() {
      while (work.size > 0) await Promise.all([...work]);
    },
  };

  return {
    url,
    apiKey,
    callbackSecret,
    control,
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const r of hung) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1_000_000) req.destroy(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
