import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Platform } from '../../src/platform.js';
import { AppError } from '../../src/lib/errors.js';
import type { ChatCore } from '../core/types.js';
import { createCallbackHandler, type CallbackDeps } from './callback.js';
import { createOfficialAccountSender } from './oa-sender.js';
import { checkMessageSignature, checkPlainSignature, openEnvelope, parseWechatXml, sealReply, textReplyXml } from './wx-crypto.js';

/**
 * The WeChat callbacks, registered only when configured:
 * - Official Account (公众号): GET /bots/wechat-oa/webhook answers the echostr
 *   of the server check; POST takes messages in plain mode (signature) or safe
 *   mode (encrypt_type=aes, msg_signature over the ciphertext, sealed for the AppID).
 * - WeCom (企业微信): GET/POST /bots/wecom/webhook, always encrypted, sealed for the CorpID.
 * A bad signature, a stale timestamp or an envelope for another app is
 * refused (401) before anything is read or done. Passive replies go back in
 * the mode the message came in.
 */
export interface WechatRouteOptions extends CallbackDeps {
  platform: Platform;
  core: ChatCore;
}

const Query = Type.Object(
  {
    signature: Type.Optional(Type.String({ maxLength: 64 })),
    msg_signature: Type.Optional(Type.String({ maxLength: 64 })),
    timestamp: Type.Optional(Type.String({ maxLength: 16 })),
    nonce: Type.Optional(Type.String({ maxLength: 64 })),
    echostr: Type.Optional(Type.String({ maxLength: 1024 })),
    openid: Type.Optional(Type.String({ maxLength: 64 })),
    encrypt_type: Type.Optional(Type.String({ maxLength: 16 })),
  },
  // WeChat may add parameters: unknown ones are ignored, not refused.
  { additionalProperties: true },
);
const XmlBody = Type.String({ maxLength: 64 * 1024, description: 'WeChat XML message' });
const TextAnswer = Type.String({ description: 'the echostr, a passive XML reply, or "success"' });

const refused = (what: string) => new AppError('INVALID_SIGNATURE', `wechat callback: ${what}`);

export async function wechatBotRoutes(fastify: FastifyInstance, opts: WechatRouteOptions) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { platform: p, core } = opts;
  const { officialAccount: oa, wecom } = p.config.wechatBots;

  // WeChat posts text/xml; only these routes read it (the parser stays inside this plugin).
  app.addContentTypeParser(['text/xml', 'application/xml'], { parseAs: 'string', bodyLimit: 64 * 1024 }, (_request, body, done) => done(null, body));

  const fresh = (timestamp: string | undefined) => {
    const t = Number(timestamp);
    return Number.isInteger(t) && Math.abs(p.clock.now().getTime() / 1000 - t) <= p.config.signatureToleranceSeconds;
  };
  const nowSeconds = () => Math.floor(p.clock.now().getTime() / 1000);
  const sendXml = (reply: FastifyReply, xml: string) => reply.type('application/xml; charset=utf-8').send(xml);
  const success = (reply: FastifyReply) => reply.type('text/plain; charset=utf-8').send('success');
  const answered = async (run: () => Promise<string | null>) => {
    try {
      return await run();
    } catch (err) {
      // The core released its claim on the message: WeChat delivers it again.
      p.logger.error({ err }, 'wechat callback failed');
      throw new AppError('SERVICE_UNAVAILABLE', 'wechat callback: try again');
    }
  };

  if (oa) {
    const sender = oa.appSecret ? createOfficialAccountSender(p) : undefined;
    // Long answers, late answers and deliveries after external payments leave through the queue with this sender.
    if (sender) opts.outbound?.registerSender?.(sender);
    const handler = createCallbackHandler(p, core, 'wechat_oa', { ...opts, sendLater: opts.sendLater ?? sender?.sendTexts });
    const schema = { tags: ['bots'], querystring: Query, response: { 200: TextAnswer } };

    app.get('/bots/wechat-oa/webhook', { config: { public: true }, schema: { ...schema, summary: 'Official Account server check (echostr)' } }, async (request, reply) => {
      const q = request.query;
      if (!checkPlainSignature(oa.token, q) || !q.echostr) throw refused('bad signature');
      return reply.type('text/plain; charset=utf-8').send(q.echostr);
    });

    app.post('/bots/wechat-oa/webhook', { config: { public: true }, schema: { ...schema, body: XmlBody, summary: 'Official Account messages (plain or safe mode), answered with a passive reply' } }, async (request, reply) => {
      const q = request.query;
      if (!fresh(q.timestamp)) throw refused('stale or missing timestamp');
      const safe = q.encrypt_type === 'aes';
      let fields: Record<string, string> | null;
      if (safe) {
        if (!oa.aesKey || !oa.appId) throw refused('safe mode is not configured');
        const ciphertext = parseWechatXml(request.body)?.Encrypt;
        if (!ciphertext || !checkMessageSignature(oa.token, q, ciphertext)) throw refused('bad msg_signature');
        const opened = openEnvelope(oa.aesKey, ciphertext, oa.appId);
        if (opened === null) throw refused('the envelope does not open for this AppID');
        fields = parseWechatXml(opened);
      } else {
        if (!checkPlainSignature(oa.token, q)) throw refused('bad signature');
        fields = parseWechatXml(request.body);
      }
      if (!fields) throw new AppError('BAD_REQUEST', 'wechat callback: not a WeChat XML message');
      const msg = fields;
      const text = await answered(() => handler.answer(msg));
      if (text === null || !msg.FromUserName || !msg.ToUserName) return success(reply);
      const xml = textReplyXml({ to: msg.FromUserName, from: msg.ToUserName, content: text, createTime: nowSeconds() });
      return sendXml(reply, safe ? sealReply({ token: oa.token, aesKey: oa.aesKey!, receiveId: oa.appId!, xml, timestamp: nowSeconds() }) : xml);
    });
  }

  if (wecom) {
    const handler = createCallbackHandler(p, core, 'wecom', opts);
    const schema = { tags: ['bots'], querystring: Query, response: { 200: TextAnswer } };

    app.get('/bots/wecom/webhook', { config: { public: true }, schema: { ...schema, summary: 'WeCom callback URL check (encrypted echostr)' } }, async (request, reply) => {
      const q = request.query;
      if (!q.echostr || !fresh(q.timestamp) || !checkMessageSignature(wecom.token, q, q.echostr)) throw refused('bad msg_signature');
      const plain = openEnvelope(wecom.aesKey, q.echostr, wecom.corpId);
      if (plain === null) throw refused('the echostr does not open for this CorpID');
      return reply.type('text/plain; charset=utf-8').send(plain);
    });

    app.post('/bots/wecom/webhook', { config: { public: true }, schema: { ...schema, body: XmlBody, summary: 'WeCom app messages (encrypted), answered with an encrypted passive reply' } }, async (request, reply) => {
      const q = request.query;
      const ciphertext = parseWechatXml(request.body)?.Encrypt;
      if (!ciphertext || !fresh(q.timestamp) || !checkMessageSignature(wecom.token, q, ciphertext)) throw refused('bad msg_signature');
      const opened = openEnvelope(wecom.aesKey, ciphertext, wecom.corpId);
      const fields = opened === null ? null : parseWechatXml(opened);
      if (!fields) throw refused('the envelope does not open for this CorpID');
      const text = await answered(() => handler.answer(fields));
      if (text === null || !fields.FromUserName || !fields.ToUserName) return success(reply);
      const xml = textReplyXml({ to: fields.FromUserName, from: fields.ToUserName, content: text, createTime: nowSeconds() });
      return sendXml(reply, sealReply({ token: wecom.token, aesKey: wecom.aesKey, receiveId: wecom.corpId, xml, timestamp: nowSeconds() }));
    });
  }
}
