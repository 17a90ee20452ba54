import { randomBytes } from 'node:crypto';
import { hmacSha256Hex, safeEqual, sha256Hex } from '../../lib/crypto.js';

/**
 * Open API request signature (agents and partners):
 *   X-Kq-Key: key id   X-Kq-Timestamp: unix seconds   X-Kq-Nonce: 16-64 chars
 *   X-Kq-Signature: hex HMAC-SHA256(secret, METHOD \n PATH?QUERY \n TIMESTAMP \n NONCE \n hex SHA-256(raw body))
 */
export function canonicalRequest(method: string, pathWithQuery: string, timestamp: string, nonce: string, rawBody: string | Buffer): string {
  return [method.toUpperCase(), pathWithQuery, timestamp, nonce, sha256Hex(rawBody)].join('\n');
}

export function signRequest(secret: string, method: string, pathWithQuery: string, timestamp: string, nonce: string, rawBody: string | Buffer): string {
  return hmacSha256Hex(secret, canonicalRequest(method, pathWithQuery, timestamp, nonce, rawBody));
}

export function signatureMatches(expected: string, given: string): boolean {
  return safeEqual(expected, given.toLowerCase());
}

/** Headers a client sends; used by the SDK example, the tests and the benchmarks. */
export function signedHeaders(keyId: string, secret: string, method: string, pathWithQuery: string, rawBody: string, now: Date = new Date(), nonce?: string) {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  // Random bytes, always 24 hex characters: a Math.random tail could come out shorter than the 16 the server requires.
  const n = nonce ?? `${now.getTime().toString(36)}${randomBytes(12).toString('hex')}`;
  return {
    'x-kq-key': keyId,
    'x-kq-timestamp': timestamp,
    'x-kq-nonce': n,
    'x-kq-signature': signRequest(secret, method, pathWithQuery, timestamp, n, rawBody),
  };
}
