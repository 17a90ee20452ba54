import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the WeChat mini-program server APIs on
 * api.weixin.qq.com: code2session (GET /sns/jscode2session), the access token
 * (GET /cgi-bin/token) and getPhoneNumber (POST /wxa/business/getuserphonenumber).
 * Codes are registered by the test and work once, like WeChat's (a second
 * use answers 40163, an unknown code 40029). `expireTokens()` makes the
 * current access token stale (42001). Subscribe messages
 * (POST /cgi-bin/message/subscribe/send) are recorded; an openid marked with
 * `refuseSubscribe` answers 43101 (the user has not subscribed).
 */
export interface FakeWechatMp {
  url: string;
  /** A wx.login code that logs in as this openid (and unionid). */
  loginCode(code: string, user: { openid: string; unionid?: string }): void;
  /** A getPhoneNumber code that answers this mainland number. */
  phoneCode(code: string, phone: string): void;
  readonly tokenRequests: number;
  readonly sessionRequests: number;
  expireTokens(): void;
  /** The subscribe messages accepted, in order. */
  readonly subscribeMessages: { touser: string; template_id: string; page?: string; data: Record<string, { value: string }> }[];
  refuseSubscribe(openid: string): void;
  close(): Promise<void>;
}

export async function startFakeWechatMp(opts: { appId: string; secret: string }): Promise<FakeWechatMp> {
  const logins = new Map<string, { openid: string; unionid?: string } | 'used'>();
  const phones = new Map<string, string | 'used'>();
  let generation = 1;
  const counts = { token: 0, session: 0 };
  const subscribed: FakeWechatMp['subscribeMessages'] = [];
  const refused = new Set<string>();
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://fake');
    const json = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const badApp = () => u.searchParams.get('appid') !== opts.appId || u.searchParams.get('secret') !== opts.secret;
    if (req.method === 'GET' && u.pathname === '/sns/jscode2session') {
      counts.session += 1;
      if (badApp()) return json({ errcode: 40013, errmsg: 'invalid appid' });
      if (u.searchParams.get('grant_type') !== 'authorization_code') return json({ errcode: 40002, errmsg: 'invalid grant_type' });
      const code = u.searchParams.get('js_code') ?? '';
      const user = logins.get(code);
      if (!user) return json({ errcode: 40029, errmsg: 'invalid code' });
      if (user === 'used') return json({ errcode: 40163, errmsg: 'code been used' });
      logins.set(code, 'used');
      return json({ openid: user.openid, session_key: 'c2Vzc2lvbi1rZXk=', ...(user.unionid ? { unionid: user.unionid } : {}) });
    }
    if (req.method === 'GET' && u.pathname === '/cgi-bin/token') {
      counts.token += 1;
      if (badApp()) return json({ errcode: 40013, errmsg: 'invalid appid' });
      return json({ access_token: `MP_TOKEN_${generation}`, expires_in: 7200 });
    }
    if (req.method === 'POST' && u.pathname === '/wxa/business/getuserphonenumber') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (u.searchParams.get('access_token') !== `MP_TOKEN_${generation}`) return json({ errcode: 42001, errmsg: 'access_token expired' });
        const { code } = JSON.parse(body || '{}') as { code?: string };
        const phone = phones.get(code ?? '');
        if (!phone) return json({ errcode: 40029, errmsg: 'invalid code' });
        if (phone === 'used') return json({ errcode: 40163, errmsg: 'code been used' });
        phones.set(code!, 'used');
        json({ errcode: 0, errmsg: 'ok', phone_info: { phoneNumber: phone, purePhoneNumber: phone, countryCode: '86', watermark: { timestamp: 0, appid: opts.appId } } });
      });
      return;
    }
    if (req.method === 'POST' && u.pathname === '/cgi-bin/message/subscribe/send') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (u.searchParams.get('access_token') !== `MP_TOKEN_${generation}`) return json({ errcode: 42001, errmsg: 'access_token expired' });
        const msg = JSON.parse(body || '{}') as FakeWechatMp['subscribeMessages'][number];
        if (!msg.touser || !msg.template_id || !msg.data) return json({ errcode: 47003, errmsg: 'argument invalid' });
        if (refused.has(msg.touser)) return json({ errcode: 43101, errmsg: 'user refuse to accept the msg' });
        subscribed.push(msg);
        json({ errcode: 0, errmsg: 'ok', msgid: subscribed.length });
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    loginCode: (code, user) => void logins.set(code, user),
    phoneCode: (code, phone) => void phones.set(code, phone),
    get tokenRequests() {
      return counts.token;
    },
    get sessionRequests() {
      return counts.session;
    },
    expireTokens: () => void (generation += 1),
    subscribeMessages: subscribed,
    refuseSubscribe: (openid) => void refused.add(openid),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
