import { and, count, eq, inArray } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import { aesGcmDecrypt, aesGcmEncrypt, hmacSha256Hex, newAesKey } from '../../lib/crypto.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { AuditService } from '../audit/service.js';
import type { CatalogService } from '../catalog/service.js';
import { codeBatches, codes } from './schema.js';

export interface PlainCode {
  cardNumber?: string;
  secret: string;
}

/**
 * The vault keeps every code encrypted (envelope encryption: a data key per
 * batch, sealed by the master key ring) and finds duplicates through an HMAC
 * of the secret, never by decrypting.
 */
export function createVaultService(p: Platform, deps: { audit: AuditService; catalog: CatalogService }) {
  const secretHmac = (secret: string) => hmacSha256Hex(p.hmacKey, `code:${secret.trim()}`);

  async function importBatch(input: { skuId: string; supplier: string; unitCostFen: number; expiresAt?: Date; region?: string; codes: PlainCode[] }, actor: { id: string; ip?: string }) {
    await deps.catalog.getSku(input.skuId);
    const hmacs = input.codes.map((c) => secretHmac(c.secret));
    if (new Set(hmacs).size !== hmacs.length) throw new AppError('VALIDATION_FAILED', 'codes: the same secret appears twice in the batch', [{ field: 'codes', message: 'duplicate secret' }]);
    const now = p.clock.now();
    const batchId = newId('bat', now);
    const dataKey = newAesKey();
    const wrapped = p.keyRing.wrap(dataKey, batchId);
    return p.db.transaction(async (tx) => {
      const clash = await tx.select({ id: codes.id }).from(codes).where(inArray(codes.secretHmac, hmacs)).limit(1);
      if (clash.length) throw new AppError('CONFLICT', 'codes: some secrets are already in the vault', [{ field: 'codes', message: 'already in the vault' }]);
      await tx.insert(codeBatches).values({
        id: batchId,
        skuId: input.skuId,
        supplier: input.supplier,
        unitCostFen: input.unitCostFen,
        expiresAt: input.expiresAt ?? null,
        region: input.region ?? 'CN',
        dataKeySealed: wrapped.sealed,
        masterKeyId: wrapped.keyId,
        importedBy: actor.id,
        createdAt: now,
      });
      const rows = input.codes.map((c, i) => {
        const id = newId('cod', now);
        const secret = c.secret.trim();
        return {
          id,
          batchId,
          skuId: input.skuId,
          sealed: aesGcmEncrypt(dataKey, JSON.stringify({ n: c.cardNumber ?? '', s: secret }), id),
          secretHmac: hmacs[i]!,
          last4: secret.slice(-4),
          createdAt: now,
        };
      });
      for (let i = 0; i < rows.length; i += 1000) await tx.insert(codes).values(rows.slice(i, i + 1000));
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'vault.import', targetType: 'batch', targetId: batchId, ip: actor.ip, details: { sku_id: input.skuId, count: rows.length } }, tx);
      return { batchId, count: rows.length };
    });
  }

  /** Decrypts one code. Callers are the delivery and the audited reveal paths only. */
  async function open(codeId: string): Promise<PlainCode> {
    const [row] = await p.db
      .select({ sealed: codes.sealed, dataKeySealed: codeBatches.dataKeySealed, masterKeyId: codeBatches.masterKeyId, batchId: codeBatches.id })
      .from(codes)
      .innerJoin(codeBatches, eq(codeBatches.id, codes.batchId))
      .where(eq(codes.id, codeId));
    if (!row) throw notFound('code', codeId);
    const dataKey = p.keyRing.unwrap(row.masterKeyId, row.dataKeySealed, row.batchId);
    const plain = JSON.parse(aesGcmDecrypt(dataKey, row.sealed, codeId).toString()) as { n: string; s: string };
    return { cardNumber: plain.n || undefined, secret: plain.s };
  }

  async function availableBySku(skuIds: string[]): Promise<Map<string, number>> {
    if (skuIds.length === 0) return new Map();
    const rows = await p.db
      .select({ skuId: codes.skuId, n: count() })
      .from(codes)
      .where(and(inArray(codes.skuId, skuIds), eq(codes.state, 'available')))
      .groupBy(codes.skuId);
    return new Map(rows.map((r) => [r.skuId, Number(r.n)]));
  }

  return { importBatch, open, availableBySku, secretHmac };
}

export type VaultService = ReturnType<typeof createVaultService>;
