import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { MasterKeyRing, aesGcmDecrypt, aesGcmEncrypt, hmacSha256Hex, newAesKey, safeEqual, sha256Hex } from './crypto.js';

const key = (fill: number) => Buffer.alloc(32, fill);
const b64 = (buf: Buffer) => buf.toString('base64');

describe('sha256Hex / hmacSha256Hex', () => {
  it('match known vectors', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex(Buffer.from('abc'))).toBe(sha256Hex('abc'));
    // RFC 4231 test case 2
    expect(hmacSha256Hex('Jefe', 'what do ya want for nothing?')).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('agree with node:crypto', () => {
    const k = randomBytes(32);
    expect(hmacSha256Hex(k, 'data')).toBe(createHmac('sha256', k).update('data').digest('hex'));
    expect(sha256Hex('中文')).toBe(createHash('sha256').update('中文', 'utf8').digest('hex'));
  });
});

describe('safeEqual', () => {
  it('compares strings', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('', '')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'ab')).toBe(false);
    expect(safeEqual('ab', 'abc')).toBe(false);
    expect(safeEqual('', 'a')).toBe(false);
    expect(safeEqual('ABC', 'abc')).toBe(false);
  });

  it('handles multi-byte characters (compares bytes, not UTF-16 units)', () => {
    expect(safeEqual('签名', '签名')).toBe(true);
    expect(safeEqual('签名', '签各')).toBe(false);
    // same UTF-16 length, different byte length: must not throw
    expect(safeEqual('é', 'e')).toBe(false);
  });

  it('property: agrees with ===', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        expect(safeEqual(a, b)).toBe(a === b);
        expect(safeEqual(a, a)).toBe(true);
      }),
    );
  });
});

describe('AES-256-GCM', () => {
  const k = newAesKey();

  it('newAesKey gives 32 random bytes', () => {
    expect(k).toHaveLength(32);
    expect(newAesKey().equals(newAesKey())).toBe(false);
  });

  it('round-trips strings and buffers', () => {
    expect(aesGcmDecrypt(k, aesGcmEncrypt(k, 'hello 卡券')).toString('utf8')).toBe('hello 卡券');
    const bin = randomBytes(1000);
    expect(aesGcmDecrypt(k, aesGcmEncrypt(k, bin)).equals(bin)).toBe(true);
  });

  it('round-trips the empty plaintext', () => {
    const sealed = aesGcmEncrypt(k, '');
    expect(sealed).toHaveLength(28);
    expect(aesGcmDecrypt(k, sealed)).toHaveLength(0);
  });

  it('lays out nonce(12) | tag(16) | ciphertext, ciphertext as long as the plaintext', () => {
    const sealed = aesGcmEncrypt(k, 'x'.repeat(37));
    expect(sealed).toHaveLength(12 + 16 + 37);
  });

  it('uses a fresh nonce per call: same plaintext encrypts differently', () => {
    const a = aesGcmEncrypt(k, 'same plaintext');
    const b = aesGcmEncrypt(k, 'same plaintext');
    expect(a.equals(b)).toBe(false);
    expect(a.subarray(0, 12).equals(b.subarray(0, 12))).toBe(false);
    expect(a.subarray(28).equals(b.subarray(28))).toBe(false);
    expect(aesGcmDecrypt(k, a).toString()).toBe('same plaintext');
    expect(aesGcmDecrypt(k, b).toString()).toBe('same plaintext');
  });

  it('nonces do not repeat over many calls', () => {
    const nonces = new Set<string>();
    for (let i = 0; i < 2000; i++) nonces.add(aesGcmEncrypt(k, 'x').subarray(0, 12).toString('hex'));
    expect(nonces.size).toBe(2000);
  });

  it('the ciphertext does not contain the plaintext', () => {
    const plain = 'CARD-SECRET-0000-1111-2222';
    expect(aesGcmEncrypt(k, plain).includes(Buffer.from(plain))).toBe(false);
  });

  it('throws when any byte is tampered with (nonce, tag or body)', () => {
    const sealed = aesGcmEncrypt(k, 'secret code 1234');
    for (const i of [0, 11, 12, 27, 28, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[i] = bad[i]! ^ 0x01;
      expect(() => aesGcmDecrypt(k, bad), `byte ${i}`).toThrow();
    }
  });

  it('throws on truncated or extended ciphertext', () => {
    const sealed = aesGcmEncrypt(k, 'secret code 1234');
    expect(() => aesGcmDecrypt(k, sealed.subarray(0, sealed.length - 1))).toThrow();
    expect(() => aesGcmDecrypt(k, Buffer.concat([sealed, Buffer.from([0])]))).toThrow();
  });

  it('refuses values shorter than nonce + tag', () => {
    expect(() => aesGcmDecrypt(k, Buffer.alloc(27))).toThrow('sealed value too short');
    expect(() => aesGcmDecrypt(k, Buffer.alloc(0))).toThrow('sealed value too short');
  });

  it('binds the ciphertext to its AAD', () => {
    const sealed = aesGcmEncrypt(k, 'code', 'row:1');
    expect(aesGcmDecrypt(k, sealed, 'row:1').toString()).toBe('code');
    expect(() => aesGcmDecrypt(k, sealed, 'row:2')).toThrow();
    expect(() => aesGcmDecrypt(k, sealed)).toThrow();
    const noAad = aesGcmEncrypt(k, 'code');
    expect(() => aesGcmDecrypt(k, noAad, 'row:1')).toThrow();
  });

  it('throws with the wrong key', () => {
    const sealed = aesGcmEncrypt(k, 'code', 'aad');
    expect(() => aesGcmDecrypt(newAesKey(), sealed, 'aad')).toThrow();
  });

  it('refuses keys that are not 32 bytes', () => {
    expect(() => aesGcmEncrypt(Buffer.alloc(16), 'x')).toThrow('AES-256-GCM needs a 32-byte key');
    expect(() => aesGcmEncrypt(Buffer.alloc(31), 'x')).toThrow(/32-byte/);
    expect(() => aesGcmEncrypt(Buffer.alloc(33), 'x')).toThrow(/32-byte/);
    expect(() => aesGcmDecrypt(Buffer.alloc(16), aesGcmEncrypt(k, 'x'))).toThrow();
  });

  it('property: decrypt(encrypt(x, aad), aad) === x', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: undefined }), (bytes, aad) => {
        const plain = Buffer.from(bytes);
        expect(aesGcmDecrypt(k, aesGcmEncrypt(k, plain, aad), aad).equals(plain)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('MasterKeyRing', () => {
  const k1 = key(1);
  const k2 = key(2);
  const spec = `k1:${b64(k1)},k2:${b64(k2)}`;

  it('parse picks the last key as active by default', () => {
    const ring = MasterKeyRing.parse(spec);
    expect(ring.activeKeyId).toBe('k2');
    expect(ring.has('k1')).toBe(true);
    expect(ring.has('k2')).toBe(true);
    expect(ring.has('k3')).toBe(false);
  });

  it('parse takes an explicit active key id', () => {
    expect(MasterKeyRing.parse(spec, 'k1').activeKeyId).toBe('k1');
  });

  it('parse tolerates spaces and empty entries', () => {
    const ring = MasterKeyRing.parse(` k1:${b64(k1)} , ,k2:${b64(k2)}, `);
    expect(ring.activeKeyId).toBe('k2');
    expect(ring.has('k1')).toBe(true);
  });

  it('parse accepts a single key', () => {
    expect(MasterKeyRing.parse(`only:${b64(k1)}`).activeKeyId).toBe('only');
  });

  it('parse refuses an active key id that is not in the ring', () => {
    expect(() => MasterKeyRing.parse(spec, 'k3')).toThrow('active master key k3 is not in the key ring');
  });

  it('parse refuses an empty spec', () => {
    expect(() => MasterKeyRing.parse('')).toThrow('no master key given');
    expect(() => MasterKeyRing.parse(' , ')).toThrow('no master key given');
  });

  it('parse refuses entries without an id', () => {
    expect(() => MasterKeyRing.parse(b64(k1))).toThrow('id:base64');
    expect(() => MasterKeyRing.parse(`:${b64(k1)}`)).toThrow('id:base64');
  });

  it('refuses keys of the wrong length', () => {
    expect(() => MasterKeyRing.parse(`k1:${b64(Buffer.alloc(16))}`)).toThrow('master key k1 must be 32 bytes');
    expect(() => MasterKeyRing.parse('k1:short')).toThrow(/must be 32 bytes/);
    expect(() => MasterKeyRing.parse(`k1:${b64(k1)},k2:${b64(Buffer.alloc(33))}`)).toThrow('master key k2 must be 32 bytes');
    expect(() => MasterKeyRing.parse('k1:')).toThrow(/must be 32 bytes/);
    expect(() => new MasterKeyRing(new Map([['a', Buffer.alloc(24)]]), 'a')).toThrow('master key a must be 32 bytes');
  });

  it('constructor refuses an active id missing from the map', () => {
    expect(() => new MasterKeyRing(new Map([['a', k1]]), 'b')).toThrow(/not in the key ring/);
  });

  it('wrap seals with the active key and unwrap opens it', () => {
    const ring = MasterKeyRing.parse(spec);
    const { keyId, sealed } = ring.wrap(Buffer.from('data key'), 'aad');
    expect(keyId).toBe('k2');
    expect(ring.unwrap(keyId, sealed, 'aad').toString()).toBe('data key');
    // really the k2 key
    expect(aesGcmDecrypt(k2, sealed, 'aad').toString()).toBe('data key');
  });

  it('reads data wrapped under an older active key after rotation', () => {
    const before = MasterKeyRing.parse(`k1:${b64(k1)}`);
    const old = before.wrap(Buffer.from('old secret'));
    expect(old.keyId).toBe('k1');

    const after = MasterKeyRing.parse(spec);
    expect(after.unwrap(old.keyId, old.sealed).toString()).toBe('old secret');
    const fresh = after.wrap(Buffer.from('new secret'));
    expect(fresh.keyId).toBe('k2');
    expect(after.unwrap(fresh.keyId, fresh.sealed).toString()).toBe('new secret');

    // re-wrap: unwrap with k1, wrap with the active key
    const rewrapped = after.wrap(after.unwrap(old.keyId, old.sealed));
    expect(rewrapped.keyId).toBe('k2');
    expect(after.unwrap('k2', rewrapped.sealed).toString()).toBe('old secret');
  });

  it('unwrap with the wrong key id or AAD throws', () => {
    const ring = MasterKeyRing.parse(spec);
    const { sealed } = ring.wrap(Buffer.from('x'), 'row:1');
    expect(() => ring.unwrap('k1', sealed, 'row:1')).toThrow();
    expect(() => ring.unwrap('k2', sealed, 'row:2')).toThrow();
  });

  it('unwrap with an unknown key id throws naming it', () => {
    const ring = MasterKeyRing.parse(spec);
    const { sealed } = ring.wrap(Buffer.from('x'));
    expect(() => ring.unwrap('k9', sealed)).toThrow('master key k9 is not configured');
  });

  it('a ring without the old key cannot read old data', () => {
    const old = MasterKeyRing.parse(`k1:${b64(k1)}`).wrap(Buffer.from('x'));
    const ring = MasterKeyRing.parse(`k2:${b64(k2)}`);
    expect(() => ring.unwrap(old.keyId, old.sealed)).toThrow(/not configured/);
  });

  it('the key id ends at the first colon', () => {
    // the id ends at the first colon; base64 never contains ':'
    const ring = MasterKeyRing.parse(`2024-01:${b64(k1)}`);
    expect(ring.activeKeyId).toBe('2024-01');
  });
});
