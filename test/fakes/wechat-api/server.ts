import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for api.weixin.qq.com: the access_token endpoint and
 * customer-service messages (/cgi-bin/message/custom/send), recording what
 * was sent. `expireTokens()` makes the current token stale (errcode 42001)
 * so the sender's refresh is exercised.
 */
export interface FakeWechatApi {
  url: string;
  sent: { touser: string; content: string }[];
  tokenRequests: number;
  expireTokens(): void;
  close(): Promise<void>;
}

export async function startFakeWechatApi(opts: { appId: string; appSecret: string }): Promise<FakeWechatApi> {
  let generation = 1;
  const state = { sent: [] as { touser: string; content: string }[], tokenRequests: 0 };
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://fake');
    const json = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && u.pathname === '/cgi-bin/token') {
      state.tokenRequests += 1;
      if (u.searchParams.get('appid') !== opts.appId || u.searchParams.get('secret') !== opts.appSecret) return json({ errcode: 40013, errmsg: 'invalid appid' });
      return json({ access_token: `TOKEN_${generation}`, expires_in: 7200 });
    }
    if (req.method === 'POST' && u.pathname === '/cgi-bin/message/custom/send') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (u.searchParams.get('access_token') !== `TOKEN_${generation}`) return json({ errcode: 42001, errmsg: 'access_token expired' });
        const m = JSON.parse(body) as { touser: string; msgtype: string; text: { content: string } };
        state.sent.push({ touser: m.touser, content: m.text.content });
        json({ errcode: 0, errmsg: 'ok' });
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get sent() {
      return state.sent;
    },
    get tokenRequests() {
      return state.tokenRequests;
    },
    expireTokens: () => void (generation += 1),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
