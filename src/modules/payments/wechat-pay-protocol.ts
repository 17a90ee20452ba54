import { createDecipheriv, createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';

/**
 * WeChat Pay API v3 wire primitives: the signature messages, RSA-SHA256
 * signing and verifying, the AEAD_AES_256_GCM resource decryption and the
 * time format. No I/O here; wechat-pay.ts puts HTTP around it.
 */

export const AUTH_SCHEMA = 'WECHATPAY2-SHA256-RSA2048';

/** v3 signs lines, each one ended by "\n" (the last one too). */
export function signatureMessage(...lines: string[]): string {
  return lines.map((line) => `${line}\n`).join('');
}

/** SHA256withRSA (PKCS#1 v1.5), base64: what WeChat calls an RSA signature. */
export function rsaSign(privateKey: KeyObject, message: string): string {
  return sign('sha256', Buffer.from(message, 'utf8'), privateKey).toString('base64');
}

export function rsaVerify(publicKey: KeyObject, message: string, signatureBase64: string): boolean {
  const signature = Buffer.from(signatureBase64, 'base64');
  if (signature.length === 0) return false;
  try {
    return verify('sha256', Buffer.from(message, 'utf8'), publicKey, signature);
  } catch {
    return false;
  }
}

/** 32 upper-case hex characters: within WeChat's 32-character nonce_str limit and safe in every header. */
export function newNonce(): string {
  return randomBytes(16).toString('hex').toUpperCase();
}

export function readRsaPrivateKey(pem: string, what: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new Error(`${what} is not a readable PEM private key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`${what} must be an RSA key (got ${key.asymmetricKeyType ?? 'unknown'})`);
  return key;
}

/** Accepts a PEM public key or a platform certificate (createPublicKey reads both). */
export function readRsaPublicKey(pem: string, what: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new Error(`${what} is not a readable PEM public key or certificate: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`${what} must be an RSA key (got ${key.asymmetricKeyType ?? 'unknown'})`);
  return key;
}

export interface EncryptedResource {
  nonce: string;
  associatedData: string;
  /** base64 of ciphertext | 16-byte GCM tag */
  ciphertext: string;
}

/** Throws on any failure (wrong key, altered ciphertext, nonce or associated data): GCM authenticates all of them. */
export function decryptResource(apiV3Key: Buffer, resource: EncryptedResource): Buffer {
  const sealed = Buffer.from(resource.ciphertext, 'base64');
  if (sealed.length <= 16) throw new Error('ciphertext is shorter than its authentication tag');
  const decipher = createDecipheriv('aes-256-gcm', apiV3Key, Buffer.from(resource.nonce, 'utf8'));
  decipher.setAAD(Buffer.from(resource.associatedData, 'utf8'));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
}

const BEIJING_OFFSET_MS = 8 * 60 * 60 * 1000;

/** RFC 3339 in China Standard Time, whole seconds ("2026-01-01T08:00:00+08:00"), the form WeChat documents. */
export function rfc3339Beijing(at: Date): string {
  return `${new Date(at.getTime() + BEIJING_OFFSET_MS).toISOString().slice(0, 19)}+08:00`;
}

export function unixSeconds(at: Date): number {
  return Math.floor(at.getTime() / 1000);
}

/**
 * Cuts text to at most maxBytes of UTF-8 without splitting a character.
 * WeChat counts its string limits in bytes, and a long product name must
 * not make a payment impossible.
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (bytes + size > maxBytes) break;
    out += ch;
    bytes += size;
  }
  return out;
}

export type HeaderBag = Record<string, string | string[] | undefined>;

/**
 * One header, looked up case-insensitively. A header sent twice is treated as
 * absent: two different signatures or timestamps cannot both be trusted.
 */
export function singleHeader(headers: HeaderBag, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    values.push(...(Array.isArray(value) ? value : [value]));
  }
  return values.length === 1 ? values[0] : undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
