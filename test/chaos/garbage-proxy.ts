/**
 * Sits between the app and the supplier simulator. While `garbageRate` is
 * above 0, that share of answers is replaced, after the simulator has acted
 * on the request, by garbage a broken supplier might send: HTML, cut-off
 * JSON, the wrong shape, an empty 200. The app must neither buy twice nor
 * lose what was bought.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const garbage: { type: string; body: string }[] = [
  { type: 'text/html', body: '<html><body><h1>502 Bad Gateway</h1></body></html>' },
  { type: 'application/json', body: '{"order_id": "SIM-' },
  { type: 'application/json', body: '{"ok":true,"data":[1,2,3],"status":42}' },
  { type: 'application/json', body: '' },
  { type: 'application/json', body: '{"status":"succeeded","codes":"not-a-list","quantity":"two"}' },
];

export interface GarbageProxy {
  url: string;
  garbageRate: number;
  garbled: number;
  close(): Promise<void>;
}

export async function startGarbageProxy(target: string): Promise<GarbageProxy> {
  const state = { garbageRate: 0, garbled: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
        const upstream = await fetch(target + (req.url ?? '/'), { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined, signal: AbortSignal.timeout(60_000) });
        const text = await upstream.text();
        if (Math.random() < state.garbageRate) {
          const g = garbage[state.garbled++ % garbage.length]!;
          res.writeHead(200, { 'content-type': g.type }).end(g.body);
          return;
        }
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(text);
      } catch {
        // The simulator hung up (its timeout mode): so do we.
        res.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const proxy: GarbageProxy = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get garbageRate() {
      return state.garbageRate;
    },
    set garbageRate(v: number) {
      state.garbageRate = v;
    },
    get garbled() {
      return state.garbled;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
