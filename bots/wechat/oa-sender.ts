import type { Platform } from '../../src/platform.js';
import { RetryAfter, type ChannelSender, type OutboundMessage } from '../core/types.js';
import { renderReplies, splitForWechat } from './render.js';

/**
 * Customer-service messages of the Official Account (客服消息,
 * POST /cgi-bin/message/custom/send): how answers too long for one passive
 * reply, or too slow for its 5 seconds, and deliveries after an external
 * payment reach the user. The outbound queue keeps to the 5-messages-in-48-h
 * allowance; this only sends. The access_token is fetched with the AppSecret
 * and shared through the key-value store, because WeChat invalidates a token
 * when another instance fetches a new one.
 */
export class WechatApiError extends Error {
  constructor(
    readonly errcode: number,
    errmsg: string,
  ) {
    super(`WeChat API error ${errcode}: ${errmsg}`);
  }
}

const TOKEN_KEY = 'wx:oa:access_token';
/** errcodes that mean the token is no longer valid: fetch a new one and try once more. */
const STALE_TOKEN = new Set([40001, 40014, 42001]);

export function createOfficialAccountSender(p: Platform, opts: { fetch?: typeof fetch } = {}): ChannelSender & { sendTexts(openid: string, texts: string[]): Promise<void> } {
  const cfg = p.config.wechatBots.officialAccount;
  const base = p.config.wechatBots.apiBase.replace(/\/$/, '');
  const doFetch = opts.fetch ?? fetch;

  async function call(path: string, init?: { body: unknown }): Promise<Record<string, unknown>> {
    const res = await doFetch(`${base}${path}`, init ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(init.body), signal: AbortSignal.timeout(10_000) } : { signal: AbortSignal.timeout(10_000) });
    if (res.status === 429 || res.status >= 500) throw new RetryAfter(5);
    const json = (await res.json()) as Record<string, unknown>;
    const errcode = typeof json.errcode === 'number' ? json.errcode : 0;
    if (errcode === -1 || errcode === 45009) throw new RetryAfter(errcode === -1 ? 2 : 60);
    if (errcode !== 0) throw new WechatApiError(errcode, String(json.errmsg ?? ''));
    return json;
  }

  async function accessToken(fresh = false): Promise<string> {
    if (!cfg?.appId || !cfg.appSecret) throw new Error('WECHAT_OA_APPID and WECHAT_OA_APPSECRET are needed to send customer-service messages');
    if (!fresh) {
      const cached = await p.kv.get(TOKEN_KEY);
      if (cached) return cached;
    }
    const json = await call(`/cgi-bin/token?grant_type=client_credential&appid=${encodeURIComponent(cfg.appId)}&secret=${encodeURIComponent(cfg.appSecret)}`);
    const token = typeof json.access_token === 'string' ? json.access_token : '';
    if (!token) throw new WechatApiError(-2, 'no access_token in the answer');
    const expiresIn = typeof json.expires_in === 'number' ? json.expires_in : 7200;
    await p.kv.del(TOKEN_KEY);
    // Renewed five minutes early: WeChat keeps the old token valid for five minutes after a new one.
    await p.kv.setIfAbsent(TOKEN_KEY, token, Math.max(60, expiresIn - 300) * 1000);
    return token;
  }

  async function sendText(openid: string, content: string): Promise<void> {
    const body = { touser: openid, msgtype: 'text', text: { content } };
    try {
      await call(`/cgi-bin/message/custom/send?access_token=${encodeURIComponent(await accessToken())}`, { body });
    } catch (err) {
      if (!(err instanceof WechatApiError && STALE_TOKEN.has(err.errcode))) throw err;
      await call(`/cgi-bin/message/custom/send?access_token=${encodeURIComponent(await accessToken(true))}`, { body });
    }
  }

  async function sendTexts(openid: string, texts: string[]): Promise<void> {
    for (const t of texts) for (const part of splitForWechat(t)) await sendText(openid, part);
  }

  return {
    channel: 'wechat_oa',
    sendTexts,
    async send(message: OutboundMessage) {
      // An Official Account conversation is always one user's private chat.
      const rendered = renderReplies(message.replies, { privateChat: true, locale: message.user?.languageHint });
      await sendTexts(message.place.chatId, rendered.texts);
    },
  };
}
