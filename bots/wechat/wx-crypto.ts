import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { decrypt, encrypt, getSignature } from '@wecom/crypto';
import { XMLParser } from 'fast-xml-parser';

/**
 * The message security of the Official Account and WeCom callbacks
 * (WXBizMsgCrypt): a SHA-1 signature over the sorted token, timestamp, nonce
 * (and the ciphertext in safe mode), and AES-256-CBC envelopes (key =
 * base64(EncodingAESKey + "="), IV = its first 16 bytes, random(16) +
 * length(4) + message + receive id) as implemented by @wecom/crypto.
 */

const sameHex = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** Plain-mode signature: sha1(sort(token, timestamp, nonce)). */
export function plainSignature(token: string, timestamp: string, nonce: string): string {
  return createHash('sha1').update([token, timestamp, nonce].sort().join('')).digest('hex');
}

export function checkPlainSignature(token: string, q: { signature?: string; timestamp?: string; nonce?: string }): boolean {
  if (!q.signature || !q.timestamp || !q.nonce) return false;
  return sameHex(plainSignature(token, q.timestamp, q.nonce), q.signature.toLowerCase());
}

/** Safe-mode signature: sha1(sort(token, timestamp, nonce, ciphertext)). */
export function checkMessageSignature(token: string, q: { msg_signature?: string; timestamp?: string; nonce?: string }, ciphertext: string): boolean {
  if (!q.msg_signature || !q.timestamp || !q.nonce) return false;
  return sameHex(getSignature(token, q.timestamp, q.nonce, ciphertext), q.msg_signature.toLowerCase());
}

/** Opens an envelope; null when it does not decrypt or was sealed for another app (receive id = AppID or CorpID). */
export function openEnvelope(aesKey: string, ciphertext: string, receiveId: string): string | null {
  try {
    const { message, id } = decrypt(aesKey, ciphertext);
    return id === receiveId ? message : null;
  } catch {
    return null;
  }
}

/** A passive reply in safe mode: the reply XML sealed and signed. */
export function sealReply(o: { token: string; aesKey: string; receiveId: string; xml: string; timestamp: number }): string {
  const nonce = randomBytes(8).toString('hex');
  const ciphertext = encrypt(o.aesKey, o.xml, o.receiveId);
  const signature = getSignature(o.token, o.timestamp, nonce, ciphertext);
  return `<xml><Encrypt>${cdata(ciphertext)}</Encrypt><MsgSignature>${cdata(signature)}</MsgSignature><TimeStamp>${o.timestamp}</TimeStamp><Nonce>${cdata(nonce)}</Nonce></xml>`;
}

/** Text in CDATA; a "]]>" inside is split across two sections. */
export const cdata = (s: string) => `<![CDATA[${s.replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;

export function textReplyXml(o: { to: string; from: string; content: string; createTime: number }): string {
  return `<xml><ToUserName>${cdata(o.to)}</ToUserName><FromUserName>${cdata(o.from)}</FromUserName><CreateTime>${o.createTime}</CreateTime><MsgType>${cdata('text')}</MsgType><Content>${cdata(o.content)}</Content></xml>`;
}

// Values stay strings (a MsgId is a 64-bit number); entities are not expanded (WeChat sends CDATA), so no entity tricks.
const parser = new XMLParser({ parseTagValue: false, parseAttributeValue: false, ignoreAttributes: true, processEntities: false, trimValues: true });

/** The fields of a WeChat XML message (<xml><ToUserName>...</ToUserName>...</xml>) as strings; null when it is not one. */
export function parseWechatXml(body: string): Record<string, string> | null {
  let doc: unknown;
  try {
    doc = parser.parse(body);
  } catch {
    return null;
  }
  const root = (doc as { xml?: unknown } | null)?.xml;
  if (!root || typeof root !== 'object') return null;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(root)) if (typeof v === 'string' || typeof v === 'number') out[k] = String(v);
  return out;
}
