import { and, desc, eq, lt } from 'drizzle-orm';
import { pageFilter } from '../../db/paging.js';
import type { Platform } from '../../platform.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import type { CatalogService } from '../catalog/service.js';
import { codeBatches, codeEvents, codes, vaultImports } from './schema.js';
import { createDataKeys, type PlainCode } from './data-keys.js';
import { insertPrepared, prepareCodes, secretHmac, type CodeToStore } from './bulk-insert.js';
import { queryRows } from '../../db/raw.js';
import type { DbOrTx } from '../../db/client.js';
import { checkRow, type ImportSource, type RawCodeRow } from './import-parser.js';
import { PatternError, checkPattern, generateCode, type CodePattern } from './code-pattern.js';
import { createStock, type SealedRow } from './stock.js';
import { createExports, type StaffCodeGuard } from './exports.js';

export type { PlainCode } from './data-keys.js';

export type ImportMode = 'all_or_nothing' | 'accept_valid';

export interface ImportReport {
  id: string;
  sku_id: string;
  batch_id: string | null;
  source: string;
  mode: string;
  status: 'running' | 'completed' | 'rejected' | 'failed';
  total_rows: number;
  accepted: number;
  rejected: number;
  rejections: { line: number; reason: string }[];
  created_at: string;
  finished_at: string | null;
}

export interface ImportMeta {
  skuId: string;
  supplier: string;
  unitCostFen: number;
  expiresAt?: Date;
  region?: string;
  mode: ImportMode;
  source: ImportSource | 'purchase' | 'generated';
  origin?: 'imported' | 'generated' | 'purchased';
}

/** Rows read so far while an import runs (nothing is committed until the end). */
export interface ImportProgress {
  import_id: string;
  rows: number;
  accepted: number;
  rejected: number;
}

export interface Actor {
  type?: 'staff' | 'system';
  id: string;
  ip?: string;
}

const CHUNK = 2000;
const MAX_REPORTED_REJECTIONS = 1000;

/**
 * The vault keeps every code encrypted (envelope encryption, see
 * data-keys.ts), finds duplicates through a keyed hash of the secret, and
 * moves codes through their life only by the state machine in code-state.ts.
 */
export function createVaultService(p: Platform, deps: { audit: AuditService; catalog: CatalogService; staffGuard?: StaffCodeGuard }) {
  const keys = createDataKeys(p);
  const stock = createStock(p, deps);

  /** Checks the target and records the import as running (visible while it runs); the batch is written with its codes. */
  async function startImport(meta: ImportMeta, actor: Actor) {
    const sku = await deps.catalog.getSku(meta.skuId);
    const product = await deps.catalog.getProduct(sku.productId);
    if (product.kind === 'topup') throw new AppError('UNPROCESSABLE', 'direct top-up SKUs hold no codes', [{ field: 'sku_id', message: 'is a top-up SKU' }]);
    const now = p.clock.now();
    // The batch expiry is every row's default: a past one would publish dead codes as stock.
    if (meta.expiresAt && meta.expiresAt <= now) throw new AppError('VALIDATION_FAILED', 'expires_at: has already passed', [{ field: 'expires_at', message: 'has already passed' }]);
    const batchId = newId('bat', now);
    const importId = newId('imp', now);
    const dk = keys.newBatchKey(batchId);
    await p.db.insert(vaultImports).values({ id: importId, skuId: meta.skuId, batchId, source: meta.source, mode: meta.mode, status: 'running', createdBy: actor.id, createdAt: now });
    const batch: typeof codeBatches.$inferInsert = {
      id: batchId,
      skuId: meta.skuId,
      origin: meta.origin ?? 'imported',
      supplier: meta.supplier,
      unitCostFen: meta.unitCostFen,
      expiresAt: meta.expiresAt ?? null,
      region: meta.region ?? 'CN',
      dataKeySealed: dk.sealed,
      masterKeyId: dk.masterKeyId,
      importedBy: actor.id,
      createdAt: now,
    };
    return { batchId, importId, dataKey: dk.key, batch };
  }

  /**
   * Streams rows into a new batch inside one transaction: nothing is visible
   * to buyers until the whole file is in, and a refused file leaves nothing
   * behind (the transaction rolls back). In all-or-nothing mode any bad row
   * refuses the file; in accept-valid mode the good rows are kept. Every bad
   * row is reported with its line number and reason.
   */
  async function importCodes(meta: ImportMeta, rows: AsyncIterable<RawCodeRow>, actor: Actor, onProgress?: (p: ImportProgress) => void): Promise<ImportReport> {
    const { batchId, importId, dataKey, batch } = await startImport(meta, actor);
    const rejections: { line: number; reason: string }[] = [];
    let rejectedCount = 0;
    let total = 0;
    let accepted = 0;
    const reject = (line: number, reason: string) => {
      rejectedCount++;
      if (rejections.length < MAX_REPORTED_REJECTIONS) rejections.push({ line, reason });
    };
    const startedMs = performance.now();
    const REFUSED = new Error('import refused');

    try {
      await p.db.transaction(async (tx) => {
        await tx.insert(codeBatches).values(batch);
        let pending: (CodeToStore & { line: number; hmac: string })[] = [];
        // One chunk is written while the next is parsed and sealed: the database and the CPU work side by side.
        let inFlight: Promise<void> = Promise.resolve();
        let writeError: unknown = null;
        const flush = async () => {
          if (pending.length === 0) return;
          const chunk = pending;
          pending = [];
          // A refused file is still written to the end (then rolled back): the unique index is what finds every duplicate.
          const prepared = prepareCodes(p, keys, dataKey, chunk, meta.expiresAt);
          await inFlight;
          if (writeError) throw writeError;
          inFlight = insertPrepared(p, tx, { batchId, skuId: meta.skuId, state: 'available' }, prepared)
            .then(async (inserted) => {
              const clashes = chunk.filter((_c, i) => !inserted.has(prepared.ids[i]!));
              // The unique index finds duplicates, within the file too (no set of every hash in memory);
              // a clash with this very batch is a line repeated in the file.
              const inThisFile = clashes.length ? new Set((await queryRows<{ secret_hmac: string }>(tx, 'select secret_hmac from codes where secret_hmac = any($1::text[]) and batch_id = $2', [clashes.map((c) => c.hmac), batchId])).map((r) => r.secret_hmac)) : new Set<string>();
              accepted += chunk.length - clashes.length;
              for (const c of clashes) reject(c.line, inThisFile.has(c.hmac) ? 'duplicate: appears earlier in this file' : 'duplicate: already in the vault');
              onProgress?.({ import_id: importId, rows: total, accepted, rejected: rejectedCount });
            })
            .catch((err: unknown) => {
              writeError = err;
            });
        };
        try {
          const now = p.clock.now();
          for await (const raw of rows) {
            total++;
            const checked = checkRow(raw, now);
            if ('reason' in checked) {
              reject(checked.line, checked.reason);
              continue;
            }
            const h = secretHmac(p.hmacKey, checked.secret);
            pending.push({ line: checked.line, cardNumber: checked.cardNumber, secret: checked.secret, expiresAt: checked.expiresAt, hmac: h });
            if (pending.length >= CHUNK) await flush();
          }
          await flush();
        } finally {
          await inFlight;
        }
        if (writeError) throw writeError;
        if (meta.mode === 'all_or_nothing' ? rejectedCount > 0 : accepted === 0) throw REFUSED;
        await tx.update(codeBatches).set({ codeCount: accepted }).where(eq(codeBatches.id, batchId));
        await deps.audit.record(
          { actorType: actor.type ?? 'staff', actorId: actor.id, action: 'vault.import', targetType: 'batch', targetId: batchId, ip: actor.ip, details: { sku_id: meta.skuId, import_id: importId, accepted, rejected: rejectedCount, source: meta.source } },
          tx,
        );
      });
    } catch (err) {
      if (err !== REFUSED) {
        await finishImport(importId, { status: 'failed', total, accepted: 0, rejectedCount, rejections: [...rejections, { line: 0, reason: `import stopped: ${(err as Error).message}` }], batchId: null });
        throw err;
      }
      if (total === 0) reject(0, 'the file has no rows');
      p.logger.info({ import_id: importId, rows: total, rejected: rejectedCount, ms: Math.round(performance.now() - startedMs) }, 'vault import refused');
      return finishImport(importId, { status: 'rejected', total, accepted: 0, rejectedCount, rejections, batchId: null });
    }
    p.logger.info({ import_id: importId, rows: total, accepted, rejected: rejectedCount, ms: Math.round(performance.now() - startedMs) }, 'vault import committed');
    return finishImport(importId, { status: 'completed', total, accepted, rejectedCount, rejections, batchId });
  }

  async function finishImport(
    importId: string,
    r: { status: ImportReport['status']; total: number; accepted: number; rejectedCount: number; rejections: { line: number; reason: string }[]; batchId: string | null },
  ): Promise<ImportReport> {
    const [row] = await p.db
      .update(vaultImports)
      .set({ status: r.status, batchId: r.batchId, totalRows: r.total, accepted: r.accepted, rejected: r.rejectedCount, rejections: r.rejections, finishedAt: p.clock.now() })
      .where(eq(vaultImports.id, importId))
      .returning();
    return toImportView(row!);
  }

  async function getImport(id: string): Promise<ImportReport> {
    const [row] = await p.db.select().from(vaultImports).where(eq(vaultImports.id, id));
    if (!row) throw notFound('import', id);
    return toImportView(row);
  }

  /** Codes bought from a supplier's API: stored like an import, all-or-nothing. */
  async function importPurchasedCodes(input: { skuId: string; supplierId: string; unitCostFen: number; codes: { cardNumber?: string; secret: string; expiresAt?: string }[]; ref: string }) {
    const importedBy = `purchase:${input.ref}`;
    // Idempotent on the purchase reference: a retried delivery (a crash after storing, a duplicated callback)
    // gets the batch it already made. A unique index on the reference settles a race between two.
    const existing = async () => {
      const [b] = await p.db.select({ id: codeBatches.id, count: codeBatches.codeCount }).from(codeBatches).where(and(eq(codeBatches.origin, 'purchased'), eq(codeBatches.importedBy, importedBy)));
      return b ? { batchId: b.id, count: b.count } : null;
    };
    const already = await existing();
    if (already) return already;
    async function* rows() {
      let line = 0;
      for (const c of input.codes) yield { line: ++line, cardNumber: c.cardNumber, secret: c.secret, expiresAt: c.expiresAt };
    }
    let report: ImportReport;
    try {
      report = await importCodes(
        { skuId: input.skuId, supplier: input.supplierId, unitCostFen: input.unitCostFen, mode: 'all_or_nothing', source: 'purchase', origin: 'purchased' },
        rows(),
        { type: 'system', id: importedBy },
      );
    } catch (err) {
      const winner = await existing();
      if (winner) return winner;
      throw err;
    }
    if (report.status !== 'completed') {
      const winner = await existing();
      if (winner) return winner;
      throw new AppError('CONFLICT', `purchased codes refused: ${report.rejections[0]?.reason ?? report.status}`, report.rejections);
    }
    return { batchId: report.batch_id!, count: report.accepted };
  }

  /** Platform codes (CDK, vouchers) generated to a pattern; the clear codes leave only by approved export or delivery. */
  async function generate(input: { skuId: string; count: number; pattern: CodePattern; expiresAt?: Date; unitCostFen?: number }, actor: Actor): Promise<ImportReport> {
    try {
      checkPattern(input.pattern, input.count);
    } catch (e) {
      if (e instanceof PatternError) throw new AppError('VALIDATION_FAILED', `pattern.${e.field}: ${e.message}`, [{ field: `pattern.${e.field}`, message: e.message }]);
      throw e;
    }
    const pattern = input.pattern;
    async function* rows(): AsyncGenerator<RawCodeRow> {
      for (let i = 0; i < input.count; i++) yield { line: i + 1, secret: generateCode(pattern) };
    }
    return importCodes({ skuId: input.skuId, supplier: 'platform', unitCostFen: input.unitCostFen ?? 0, expiresAt: input.expiresAt, mode: 'all_or_nothing', source: 'generated', origin: 'generated' }, rows(), actor);
  }

  /** Decrypts codes for delivery to their buyer (the orders module). */
  async function openCodes(codeIds: string[], db: DbOrTx = p.db): Promise<Map<string, PlainCode>> {
    if (codeIds.length === 0) return new Map();
    // Every sale opens its codes: hand-written, to skip building a query object each time.
    const rows = await queryRows<{ id: string; sealed: Uint8Array; batch_id: string; data_key_sealed: Uint8Array; master_key_id: string }>(
      db,
      'select c.id, c.sealed, c.batch_id, b.data_key_sealed, b.master_key_id from codes c join code_batches b on b.id = c.batch_id where c.id = any($1::text[])',
      [codeIds],
    );
    return openSealed(rows.map((r) => ({ ...r, code_id: r.id })));
  }

  /**
   * Codes found outside (pasted from a marketplace listing): matched by the
   * keyed hash of the secret, never by decrypting anything; or, when only the
   * last characters are known, by SKU and tail (several may match).
   */
  async function findLeaked(q: { secrets?: string[]; tails?: { skuId: string; last4: string }[] }): Promise<{ input: string; matches: { id: string; skuId: string; state: string; orderId: string | null; last4: string }[] }[]> {
    const out: { input: string; matches: { id: string; skuId: string; state: string; orderId: string | null; last4: string }[] }[] = [];
    type Row = { id: string; sku_id: string; state: string; order_id: string | null; last4: string; secret_hmac: string };
    const secrets = q.secrets ?? [];
    if (secrets.length) {
      const hmacs = secrets.map((sec) => secretHmac(p.hmacKey, sec.trim()));
      const rows = await queryRows<Row>(p.db, 'select id, sku_id, state, order_id, last4, secret_hmac from codes where secret_hmac = any($1::text[])', [hmacs]);
      const byHmac = new Map(rows.map((r) => [r.secret_hmac, r]));
      secrets.forEach((sec, i) => {
        const r = byHmac.get(hmacs[i]!);
        out.push({ input: `…${sec.trim().slice(-4)}`, matches: r ? [{ id: r.id, skuId: r.sku_id, state: r.state, orderId: r.order_id, last4: r.last4 }] : [] });
      });
    }
    for (const t of q.tails ?? []) {
      const rows = await queryRows<Row>(p.db, `select id, sku_id, state, order_id, last4, secret_hmac from codes where sku_id = $1 and last4 = $2 and order_id is not null order by id limit 20`, [t.skuId, t.last4]);
      out.push({ input: `${t.skuId} …${t.last4}`, matches: rows.map((r) => ({ id: r.id, skuId: r.sku_id, state: r.state, orderId: r.order_id, last4: r.last4 })) });
    }
    return out;
  }

  function openSealed(rows: SealedRow[]): Map<string, PlainCode> {
    const buf = (v: Uint8Array) => (Buffer.isBuffer(v) ? v : Buffer.from(v));
    return new Map(rows.map((r) => [r.code_id, keys.open(keys.unwrap(r.batch_id, r.master_key_id, buf(r.data_key_sealed)), r.code_id, buf(r.sealed))]));
  }

  /**
   * Claims codes straight into their final state (e.g. sold -> delivered ->
   * revealed for an order paid at once) and opens them, in one statement per
   * pool: the hot path of a sale handing its codes to their owner.
   */
  async function claimAndOpen(q: Omit<Parameters<typeof stock.reserve>[0], 'sealed'>, tx: DbOrTx): Promise<{ ids: string[]; plain: Map<string, PlainCode> }> {
    const sealed: SealedRow[] = [];
    const ids = await stock.reserve({ ...q, sealed }, tx);
    return { ids, plain: openSealed(sealed) };
  }

  async function open(codeId: string): Promise<PlainCode> {
    const plain = (await openCodes([codeId])).get(codeId);
    if (!plain) throw notFound('code', codeId);
    return plain;
  }

  /** A staff member sees one clear code: needs vault:reveal (checked by the route) and a reason; always audited. */
  async function revealToStaff(codeId: string, reason: string, actor: Actor): Promise<PlainCode & { id: string }> {
    const plain = await open(codeId);
    // Counted (and refused when blocked) only once the code exists, before it leaves.
    await deps.staffGuard?.consume(actor.id, 'reveal', 1);
    await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'vault.reveal', targetType: 'code', targetId: codeId, ip: actor.ip, details: { reason } });
    return { id: codeId, ...plain };
  }

  async function listCodes(q: { limit: number; cursor?: string; skuId?: string; state?: string; batchId?: string }) {
    const where = pageFilter(codes.id, q.cursor, q.skuId ? eq(codes.skuId, q.skuId) : undefined, q.state ? eq(codes.state, q.state) : undefined, q.batchId ? eq(codes.batchId, q.batchId) : undefined);
    const rows = await p.db
      .select({ id: codes.id, skuId: codes.skuId, batchId: codes.batchId, last4: codes.last4, state: codes.state, allocationId: codes.allocationId, expiresAt: codes.expiresAt, orderId: codes.orderId, saleCount: codes.saleCount, createdAt: codes.createdAt })
      .from(codes)
      .where(where)
      .orderBy(desc(codes.id))
      .limit(q.limit + 1);
    return toPage(rows.map(toMaskedView), q.limit);
  }

  async function getCode(codeId: string) {
    const [row] = await p.db.select().from(codes).where(eq(codes.id, codeId));
    if (!row) throw notFound('code', codeId);
    const events = await p.db.select().from(codeEvents).where(eq(codeEvents.codeId, codeId)).orderBy(codeEvents.id);
    return {
      ...toMaskedView(row),
      events: events.map((e) => ({ from: e.fromState, to: e.toState, actor_type: e.actorType, actor_id: e.actorId, ref: e.ref, at: e.at.toISOString() })),
    };
  }

  async function listBatches(q: { limit: number; cursor?: string; skuId?: string }) {
    const rows = await p.db.select().from(codeBatches).where(pageFilter(codeBatches.id, q.cursor, q.skuId ? eq(codeBatches.skuId, q.skuId) : undefined)).orderBy(desc(codeBatches.id)).limit(q.limit + 1);
    return toPage(
      rows.map((b) => ({
        id: b.id,
        sku_id: b.skuId,
        origin: b.origin,
        supplier: b.supplier,
        unit_cost_fen: b.unitCostFen,
        expires_at: b.expiresAt?.toISOString() ?? null,
        region: b.region,
        imported_by: b.importedBy,
        code_count: b.codeCount,
        master_key_id: b.masterKeyId,
        created_at: b.createdAt.toISOString(),
      })),
      q.limit,
    );
  }

  /** Imports left 'running' by a process that died: their transaction rolled back, so only the record needs closing. */
  async function cleanupStalledImports(olderThanMs = 60 * 60_000): Promise<number> {
    const cutoff = new Date(p.clock.now().getTime() - olderThanMs);
    const rows = await p.db
      .update(vaultImports)
      .set({ status: 'failed', batchId: null, finishedAt: p.clock.now(), rejections: [{ line: 0, reason: 'import interrupted; nothing was stored' }] })
      .where(and(eq(vaultImports.status, 'running'), lt(vaultImports.createdAt, cutoff)))
      .returning({ id: vaultImports.id });
    return rows.length;
  }

  const exports = createExports(p, { audit: deps.audit, openCodes, staffGuard: deps.staffGuard });

  return {
    importCodes,
    importPurchasedCodes,
    getImport,
    generate,
    open,
    openCodes,
    revealToStaff,
    listCodes,
    getCode,
    listBatches,
    cleanupStalledImports,
    secretHmac: (secret: string) => secretHmac(p.hmacKey, secret),
    ...stock,
    claimAndOpen,
    findLeaked,
    exports,
  };
}

function toMaskedView(r: { id: string; skuId: string; batchId: string; last4: string; state: string; allocationId: string | null; expiresAt: Date | null; orderId: string | null; saleCount: number; createdAt: Date }) {
  return {
    id: r.id,
    sku_id: r.skuId,
    batch_id: r.batchId,
    secret_masked: `********${r.last4}`,
    state: r.state,
    allocation_id: r.allocationId,
    expires_at: r.expiresAt?.toISOString() ?? null,
    order_id: r.orderId,
    sale_count: r.saleCount,
    created_at: r.createdAt.toISOString(),
  };
}

function toImportView(r: typeof vaultImports.$inferSelect): ImportReport {
  return {
    id: r.id,
    sku_id: r.skuId,
    batch_id: r.batchId,
    source: r.source,
    mode: r.mode,
    status: r.status as ImportReport['status'],
    total_rows: r.totalRows,
    accepted: r.accepted,
    rejected: r.rejected,
    rejections: r.rejections,
    created_at: r.createdAt.toISOString(),
    finished_at: r.finishedAt?.toISOString() ?? null,
  };
}

export type VaultService = ReturnType<typeof createVaultService>;
