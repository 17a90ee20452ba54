import type { Platform } from '../../platform.js';
import { AppError } from '../../lib/errors.js';

/**
 * The few WeChat mini-program server APIs the platform calls: code2session
 * (GET /sns/jscode2session) for login, the access_token (GET /cgi-bin/token,
 * shared through the key-value store: WeChat invalidates a token when another
 * instance fetches a new one) and getPhoneNumber
 * (POST /wxa/business/getuserphonenumber). The base URL is configurable, so
 * tests use a local fake.
 */
export class WechatMpError extends Error {
  constructor(
    readonly errcode: number,
    readonly errmsg: string,
  ) {
    super(`WeChat API error ${errcode}: ${errmsg}`);
  }
}

export interface MpConfig {
  appId: string;
  secret: string;
  apiBase: string;
}

const TOKEN_KEY = 'wx:mp:access_token';
/** errcodes meaning the access token is no longer valid: fetch a new one and try once more. */
const STALE_TOKEN = new Set([40001, 40014, 42001]);

export function createWechatMpClient(p: Platform, cfg: MpConfig, opts: { fetch?: typeof fetch } = {}) {
  const base = cfg.apiBase.replace(/\/$/, '');
  const doFetch = opts.fetch ?? fetch;

  async function call(path: string, body?: unknown): Promise<Record<string, unknown>> {
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, body === undefined ? { signal: AbortSignal.timeout(10_000) } : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    } catch {
      throw new AppError('SERVICE_UNAVAILABLE', 'WeChat did not answer; try again');
    }
    if (!res.ok) throw new AppError('SERVICE_UNAVAILABLE', `WeChat answered HTTP ${res.status}; try again`);
    const json = (await res.json()) as Record<string, unknown>;
    const errcode = typeof json.errcode === 'number' ? json.errcode : 0;
    if (errcode !== 0) throw new WechatMpError(errcode, String(json.errmsg ?? ''));
    return json;
  }

  /** The session of a wx.login code: openid, and unionid when the app is bound to an open platform account. The session_key is not kept. */
  async function code2session(code: string): Promise<{ openid: string; unionid?: string }> {
    const q = new URLSearchParams({ appid: cfg.appId, secret: cfg.secret, js_code: code, grant_type: 'authorization_code' });
    const json = await call(`/sns/jscode2session?${q.toString()}`);
    if (typeof json.openid !== 'string' || !json.openid) throw new WechatMpError(-2, 'no openid in the answer');
    return { openid: json.openid, unionid: typeof json.unionid === 'string' && json.unionid ? json.unionid : undefined };
  }

  async function accessToken(fresh = false): Promise<string> {
    if (!fresh) {
      const cached = await p.kv.get(TOKEN_KEY);
      if (cached) return cached;
    }
    const q = new URLSearchParams({ grant_type: 'client_credential', appid: cfg.appId, secret: cfg.secret });
    const json = await call(`/cgi-bin/token?${q.toString()}`);
    const token = typeof json.access_token === 'string' ? json.access_token : '';
    if (!token) throw new WechatMpError(-2, 'no access_token in the answer');
    const expiresIn = typeof json.expires_in === 'number' ? json.expires_in : 7200;
    await p.kv.del(TOKEN_KEY);
    // Renewed five minutes early: WeChat keeps the old token valid for five minutes after a new one.
    await p.kv.setIfAbsent(TOKEN_KEY, token, Math.max(60, expiresIn - 300) * 1000);
    return token;
  }

  /** The phone number behind a getPhoneNumber code (the button's e.detail.code). */
  async function phoneNumber(code: string): Promise<string> {
    const ask = async (token: string) => call(`/wxa/business/getuserphonenumber?access_token=${encodeURIComponent(token)}`, { code });
    let json: Record<string, unknown>;
    try {
      json = await ask(await accessToken());
    } catch (err) {
      if (!(err instanceof WechatMpError && STALE_TOKEN.has(err.errcode))) throw err;
      json = await ask(await accessToken(true));
    }
    const info = (json.phone_info ?? {}) as { purePhoneNumber?: unknown; phoneNumber?: unknown; countryCode?: unknown };
    const pure = typeof info.purePhoneNumber === 'string' ? info.purePhoneNumber : typeof info.phoneNumber === 'string' ? info.phoneNumber : '';
    if (!pure) throw new WechatMpError(-2, 'no phone number in the answer');
    // Mainland numbers are kept as the 11 digits (as customers type them); others with their country code.
    const cc = typeof info.countryCode === 'string' ? info.countryCode : '86';
    return cc === '86' ? pure : `+${cc}${pure}`;
  }

  return { code2session, accessToken, phoneNumber };
}

export type WechatMpClient = ReturnType<typeof createWechatMpClient>;
