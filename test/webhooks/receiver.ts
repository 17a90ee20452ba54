import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A partner's webhook receiver on 127.0.0.1 (port 0): records every request
 * and answers 500 to the first `failures` of them (Infinity: always), after
 * `delayMs` when set.
 */
export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  failures: number;
  delayMs: number;
  close(): Promise<void>;
}

export async function startReceiver(o: { failures?: number; delayMs?: number; path?: string } = {}): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const state = { failures: o.failures ?? 0, delayMs: o.delayMs ?? 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const answer = () => {
        if (res.destroyed) return;
        if (state.failures > 0) {
          state.failures--;
          res.writeHead(500, { 'content-type': 'text/plain' }).end('receiver is down');
        } else {
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        }
      };
      if (state.delayMs > 0) setTimeout(answer, state.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${o.path ?? '/hooks/kaquan'}`,
    requests,
    get failures() {
      return state.failures;
    },
    set failures(n: number) {
      state.failures = n;
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(n: number) {
      state.delayMs = n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A header of a received request as one string. */
export const headerOf = (r: ReceivedRequest, name: string): string => {
  const v = r.headers[name.toLowerCase()];
  return (Array.isArray(v) ? v[0] : v) ?? '';
};
