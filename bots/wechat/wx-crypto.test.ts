import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decrypt } from '@wecom/crypto';
import { checkMessageSignature, checkPlainSignature, openEnvelope, parseWechatXml, sealReply } from './wx-crypto.js';

const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

describe('WXBizMsgCrypt pieces', () => {
  it('checks the plain signature sha1(sort(token, timestamp, nonce))', () => {
    const signature = sha1(['tok123', '1700000000', 'n0nce'].sort().join(''));
    expect(checkPlainSignature('tok123', { signature, timestamp: '1700000000', nonce: 'n0nce' })).toBe(true);
    expect(checkPlainSignature('tok123', { signature, timestamp: '1700000001', nonce: 'n0nce' })).toBe(false);
    expect(checkPlainSignature('tok123', { timestamp: '1700000000', nonce: 'n0nce' })).toBe(false);
  });

  it('seals a reply that opens with the same key and receive id, and refuses another app', () => {
    const xml = sealReply({ token: 'tok123', aesKey: AES_KEY, receiveId: 'wx0123456789abcdef', xml: '<xml><Content><![CDATA[你好]]></Content></xml>', timestamp: 1700000000 });
    const f = parseWechatXml(xml)!;
    expect(checkMessageSignature('tok123', { msg_signature: f.MsgSignature, timestamp: f.TimeStamp, nonce: f.Nonce }, f.Encrypt!)).toBe(true);
    expect(openEnvelope(AES_KEY, f.Encrypt!, 'wx0123456789abcdef')).toContain('你好');
    expect(openEnvelope(AES_KEY, f.Encrypt!, 'wxffffffffffffffff')).toBeNull();
    expect(decrypt(AES_KEY, f.Encrypt!).id).toBe('wx0123456789abcdef');
    expect(openEnvelope(AES_KEY, 'bm90IGEgY2lwaGVydGV4dA==', 'wx0123456789abcdef')).toBeNull();
  });

  it('keeps a 64-bit MsgId as a string and refuses non-WeChat bodies', () => {
    const f = parseWechatXml('<xml><MsgId>23637352235060880</MsgId><Content><![CDATA[菜单]]></Content></xml>')!;
    expect(f.MsgId).toBe('23637352235060880');
    expect(f.Content).toBe('菜单');
    expect(parseWechatXml('{"a":1}')).toBeNull();
    expect(parseWechatXml('<other/>')).toBeNull();
  });
});
