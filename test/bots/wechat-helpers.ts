import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { decrypt, encrypt, getSignature } from '@wecom/crypto';
import type { LightMyRequestResponse } from 'fastify';
import type { TestApp } from '../helpers/boot.js';
import { parseWechatXml } from '../../bots/wechat/wx-crypto.js';

export const OA = { token: 'kqOaToken2026', aesKey: 'Kq0123456789abcdefghijklmnopqrstuvwxyzABCDE', appId: 'wx1234567890abcdef', appSecret: '0123456789abcdef0123456789abcdef', gh: 'gh_kaquan0001' };
export const WECOM = { token: 'kqWecomToken', aesKey: 'Wc0123456789abcdefghijklmnopqrstuvwxyzABCDE', corpId: 'ww00112233445566', agentId: '1000002' };

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
const cdata = (s: string) => `<![CDATA[${s}]]>`;
const now = () => String(Math.floor(Date.now() / 1000));

export function textXml(o: { to: string; from: string; content: string; msgId: string; agentId?: string }): string {
  return `<xml><ToUserName>${cdata(o.to)}</ToUserName><FromUserName>${cdata(o.from)}</FromUserName><CreateTime>${now()}</CreateTime><MsgType>${cdata('text')}</MsgType><Content>${cdata(o.content)}</Content><MsgId>${o.msgId}</MsgId>${o.agentId ? `<AgentID>${o.agentId}</AgentID>` : ''}</xml>`;
}

/** The line "N. label" of the bot's last menu: the number to type for that button. */
export function numberOf(text: string, label: string | RegExp): string {
  for (const line of text.split('\n')) {
    const m = line.match(/^(\d+)\. (.*)$/);
    if (m && (typeof label === 'string' ? m[2]!.includes(label) : label.test(m[2]!))) return m[1]!;
  }
  throw new Error(`no menu line for ${String(label)} in:\n${text}`);
}

/** Drives the Official Account webhook like WeChat does: signed plain XML or encrypted XML (safe mode). */
/** MsgIds are unique per account: one counter for every client in the run (a fresh client must not repeat one). */
let seq = BigInt(Date.now()) * 1000n;

export function officialAccountClient(t: TestApp) {
  async function post(xml: string, mode: 'plain' | 'aes', tamper = false): Promise<LightMyRequestResponse> {
    const timestamp = now();
    const nonce = randomBytes(5).toString('hex');
    const q = new URLSearchParams({ timestamp, nonce, signature: sha1([OA.token, timestamp, nonce].sort().join('')) });
    let body = xml;
    if (mode === 'aes') {
      const ciphertext = encrypt(OA.aesKey, xml, OA.appId);
      q.set('encrypt_type', 'aes');
      q.set('msg_signature', getSignature(OA.token, timestamp, nonce, ciphertext));
      body = `<xml><ToUserName>${cdata(OA.gh)}</ToUserName><Encrypt>${cdata(ciphertext)}</Encrypt></xml>`;
    }
    if (tamper) q.set(mode === 'aes' ? 'msg_signature' : 'signature', sha1('forged'));
    return t.inject({ method: 'POST', url: `/bots/wechat-oa/webhook?${q}`, headers: { 'content-type': 'text/xml' }, payload: body });
  }
  /** The passive reply's text ('' for "success"), after checking the reply's own signature in safe mode. */
  function replyText(res: LightMyRequestResponse, mode: 'plain' | 'aes'): string {
    if (res.statusCode !== 200) throw new Error(`webhook answered ${res.statusCode}: ${res.body}`);
    if (res.body === 'success') return '';
    let fields = parseWechatXml(res.body)!;
    if (mode === 'aes') {
      if (getSignature(OA.token, fields.TimeStamp!, fields.Nonce!, fields.Encrypt!) !== fields.MsgSignature) throw new Error('reply signature does not verify');
      const opened = decrypt(OA.aesKey, fields.Encrypt!);
      if (opened.id !== OA.appId) throw new Error('reply sealed for another app');
      fields = parseWechatXml(opened.message)!;
    }
    return fields.Content ?? '';
  }
  return {
    post,
    replyText,
    nextMsgId: () => `${++seq}`,
    async say(openid: string, content: string, mode: 'plain' | 'aes', msgId?: string): Promise<string> {
      const res = await post(textXml({ to: OA.gh, from: openid, content, msgId: msgId ?? `${++seq}` }), mode);
      return replyText(res, mode);
    },
  };
}

/** What the bots said, written to docs/transcripts/wechat.md with every code masked. */
export function createTranscript(file: string, title: string, intro: string) {
  const sections: { heading: string; lines: string[] }[] = [];
  let secrets: string[] = [];
  // Codes masked; ids and referral codes that change on every run made stable, so the file only changes when the bots' words do.
  const mask = (s: string) =>
    secrets
      .reduce((acc, secret) => acc.split(secret).join(`${secret.slice(0, 3)}${'•'.repeat(Math.max(4, secret.length - 3))}`), s)
      .replace(/\b(ord|cus|agt)_[0-9A-HJKMNP-TV-Z]{26}\b/g, '$1_…')
      .replace(/\bref_[A-Za-z0-9_-]+/g, 'ref_LEADERCODE')
      .replace(/\b\d{4}-\d{2}-\d{2}\b/g, 'YYYY-MM-DD');
  return {
    hideSecrets(list: string[]) {
      secrets = [...secrets, ...list];
    },
    section(heading: string) {
      sections.push({ heading, lines: [] });
    },
    line(who: string, text: string) {
      const current = sections.at(-1)!;
      const body = mask(text).split('\n').map((l) => `> ${l}`).join('\n');
      current.lines.push(`**${who}**\n${body}\n`);
    },
    note(text: string) {
      sections.at(-1)!.lines.push(`_${text}_\n`);
    },
    write() {
      const out = [`# ${title}`, '', intro, '', ...sections.flatMap((s) => [`## ${s.heading}`, '', ...s.lines])].join('\n');
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, out);
    },
  };
}
