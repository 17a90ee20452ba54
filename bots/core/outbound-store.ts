import type { Platform } from '../../src/platform.js';
import type { Reply } from './types.js';

/**
 * How a reply is kept in bot_outbound_messages.replies: as given, except
 * that a secret's text and a link's address (a reveal link carries a
 * one-time token) are sealed with the master key ring (AAD ties them to the
 * message and the reply's place in it, so sealed bytes copied to another row
 * do not open) and PNG bytes are base64.
 */
export interface StoredReply extends Omit<Reply, 'secret' | 'image' | 'url'> {
  secret?: { sealed: string; keyId: string; codeIds: string[] };
  url?: { label: string; sealedHref: string; keyId: string };
  image?: { url?: string; pngBase64?: string; caption?: string };
}

const aadOf = (messageId: string, index: number) => `bot_outbound:${messageId}:${index}`;

export function sealReplies(p: Pick<Platform, 'keyRing'>, messageId: string, replies: Reply[]): StoredReply[] {
  return replies.map((r, i) => {
    const { secret, image, url, ...rest } = r;
    const out: StoredReply = { ...rest };
    if (secret) {
      const { sealed, keyId } = p.keyRing.wrap(Buffer.from(secret.text, 'utf8'), aadOf(messageId, i));
      out.secret = { sealed: sealed.toString('base64'), keyId, codeIds: secret.codeIds };
    }
    if (url) {
      const { sealed, keyId } = p.keyRing.wrap(Buffer.from(url.href, 'utf8'), `${aadOf(messageId, i)}:url`);
      out.url = { label: url.label, sealedHref: sealed.toString('base64'), keyId };
    }
    if (image) out.image = { url: image.url, caption: image.caption, pngBase64: image.png?.toString('base64') };
    return out;
  });
}

export function openReplies(p: Pick<Platform, 'keyRing'>, messageId: string, stored: StoredReply[]): Reply[] {
  return stored.map((r, i) => {
    const { secret, image, url, ...rest } = r;
    const out: Reply = { ...rest };
    if (url) out.url = { label: url.label, href: p.keyRing.unwrap(url.keyId, Buffer.from(url.sealedHref, 'base64'), `${aadOf(messageId, i)}:url`).toString('utf8') };
    if (secret) out.secret = { text: p.keyRing.unwrap(secret.keyId, Buffer.from(secret.sealed, 'base64'), aadOf(messageId, i)).toString('utf8'), codeIds: secret.codeIds };
    if (image) out.image = { url: image.url, caption: image.caption, png: image.pngBase64 ? Buffer.from(image.pngBase64, 'base64') : undefined };
    return out;
  });
}
