import { eq } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import { aesGcmDecrypt, aesGcmEncrypt, newAesKey } from '../../lib/crypto.js';
import { codeBatches } from './schema.js';

export interface PlainCode {
  cardNumber?: string;
  secret: string;
}

/**
 * Envelope encryption for the vault. Each batch has its own AES-256 data key,
 * stored sealed by the master key ring (AAD = batch id). Unsealed data keys
 * are cached briefly in memory, as KMS clients do, so delivering many codes
 * of one batch does not unwrap the same key each time.
 */
export function createDataKeys(p: Platform) {
  const cache = new Map<string, { key: Buffer; at: number }>();
  const TTL_MS = 5 * 60_000;
  const MAX = 512;

  function newBatchKey(batchId: string) {
    const key = newAesKey();
    const wrapped = p.keyRing.wrap(key, batchId);
    remember(batchId, wrapped.keyId, key);
    return { key, sealed: wrapped.sealed, masterKeyId: wrapped.keyId };
  }

  function remember(batchId: string, masterKeyId: string, key: Buffer) {
    if (cache.size >= MAX) cache.delete(cache.keys().next().value!);
    cache.set(`${batchId}:${masterKeyId}`, { key, at: Date.now() });
  }

  function unwrap(batchId: string, masterKeyId: string, sealed: Buffer): Buffer {
    const hit = cache.get(`${batchId}:${masterKeyId}`);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.key;
    const key = p.keyRing.unwrap(masterKeyId, sealed, batchId);
    remember(batchId, masterKeyId, key);
    return key;
  }

  async function keyForBatch(batchId: string): Promise<Buffer> {
    const [b] = await p.db.select({ sealed: codeBatches.dataKeySealed, keyId: codeBatches.masterKeyId }).from(codeBatches).where(eq(codeBatches.id, batchId));
    if (!b) throw new Error(`batch ${batchId} not found`);
    return unwrap(batchId, b.keyId, b.sealed);
  }

  return {
    newBatchKey,
    unwrap,
    keyForBatch,
    /** Seals card number and secret together, bound to the code id. */
    seal: (key: Buffer, codeId: string, c: PlainCode) => aesGcmEncrypt(key, JSON.stringify({ n: c.cardNumber ?? '', s: c.secret }), codeId),
    open: (key: Buffer, codeId: string, sealed: Buffer): PlainCode => {
      const plain = JSON.parse(aesGcmDecrypt(key, sealed, codeId).toString()) as { n: string; s: string };
      return { cardNumber: plain.n || undefined, secret: plain.s };
    },
  };
}

export type DataKeys = ReturnType<typeof createDataKeys>;
