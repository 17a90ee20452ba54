import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { guardedLookup } from './url-guard.js';

export type SendResult = { ok: true; status: number } | { ok: false; status: number | null; error: string };

const MAX_ERROR_BODY = 200;

/**
 * One POST. node:http rather than fetch because it takes a `lookup` hook, the
 * only way to check the address actually connected to without a new
 * dependency. Redirects are not followed (a 3xx is a failure): following one
 * would let a public URL bounce us to a private one. The timeout covers the
 * whole exchange, so a receiver that stalls mid-reply cannot pin a worker.
 */
export function postWebhook(url: URL, body: string, headers: Record<string, string>, o: { timeoutMs: number; guardAddresses: boolean }): Promise<SendResult> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    let timedOut = false;
    const finish = (r: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(!r.ok && timedOut ? { ok: false, status: r.status, error: `no complete answer within ${o.timeoutMs} ms` } : r);
    };
    const req = request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'kaquan-webhooks/1' },
        ...(o.guardAddresses ? { lookup: guardedLookup } : {}),
        // One connection per attempt: no pooled socket outlives the DNS check that admitted it.
        agent: false,
      },
      (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        let snippet = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (snippet.length < MAX_ERROR_BODY) snippet += chunk.slice(0, MAX_ERROR_BODY - snippet.length);
        });
        res.on('end', () => finish(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, error: describeStatus(status, snippet) }));
        res.on('error', (err) => finish({ ok: false, status, error: `response broken: ${err.message}` }));
        // 'end' comes before 'close' on a complete reply; a close alone means it was cut off.
        res.on('close', () => finish({ ok: false, status, error: 'response cut off' }));
      },
    );
    const timer = setTimeout(() => {
      timedOut = true;
      req.destroy(new Error('timed out'));
    }, o.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, status: null, error: err.code === 'EPRIVATEADDR' ? `refused: ${err.message}` : err.message }));
    req.end(body);
  });
}

function describeStatus(status: number, snippet: string): string {
  const text = snippet.replace(/\s+/g, ' ').trim();
  return text ? `HTTP ${status}: ${text}` : `HTTP ${status}`;
}
