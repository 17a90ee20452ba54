import { eq, sql } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import { notFound } from '../../lib/errors.js';
import type { AlertService } from '../alerts/service.js';
import type { AuditService } from '../audit/service.js';
import type { CatalogService } from '../catalog/service.js';
import type { SupplierAdapter } from './adapter.js';
import { createHttpJsonAdapter } from './http-json-adapter.js';
import { suppliers } from './schema.js';

export type SupplierRow = typeof suppliers.$inferSelect;

export interface PurchasedCodesImport {
  skuId: string;
  supplierId: string;
  unitCostFen: number;
  codes: { cardNumber?: string; secret: string; expiresAt?: string }[];
  /** The supplier try's reference: an importer keyed on it never imports the same delivery twice. */
  ref: string;
}

export interface SupplierDeps {
  audit: AuditService;
  catalog: CatalogService;
  alerts: AlertService;
  importPurchasedCodes: (input: PurchasedCodesImport) => Promise<{ batchId: string; count: number }>;
}

export interface SupplierServiceOptions {
  /**
   * Hosts supplier base URLs may point at ("api.x.cn" or "*.x.cn"); checked
   * when a supplier is saved and before every call. Undefined allows any host
   * (wire it to a SUPPLIER_URL_ALLOWLIST setting in production).
   */
  allowedHosts?: string[];
  /**
   * Whether base URLs may point at loopback, private or link-local addresses (checked when a supplier is
   * saved, after resolving its host). Hosts named exactly in allowedHosts are trusted. Default true (tests, demos).
   */
  allowPrivateNetworks?: boolean;
  /** Public base URL of this platform; callbacks go to `${callbackBaseUrl}/callbacks/suppliers/<id>`. Without it orders are settled by polling only. */
  callbackBaseUrl?: string;
  /** Builds the adapter of a supplier (tests, or adapters other than http_json). */
  adapterFor?: (supplier: SupplierRow) => SupplierAdapter;
  /** Pauses between the re-queries of an order whose placement had an uncertain outcome. */
  queryRetryDelaysMs?: number[];
  /** Open tries untouched for this long are re-checked by pollOpenOrders (default 30 s). */
  pollAfterMs?: number;
}

export interface Credentials {
  apiKey: string;
  callbackSecret: string;
}

/** What the parts of the supplier service share: the platform, the deps and guarded access to adapters. */
export interface SupplierContext {
  p: Platform;
  deps: SupplierDeps;
  options: SupplierServiceOptions;
  getSupplier(id: string): Promise<SupplierRow>;
  credentialsOf(row: SupplierRow): Credentials;
  adapterOf(row: SupplierRow): SupplierAdapter;
  /** Calls the supplier and keeps its health up to date from the outcome. */
  call<T>(row: SupplierRow, fn: (adapter: SupplierAdapter) => Promise<T>): Promise<T>;
}

export const DOWN_AFTER_FAILURES = 3;

export function createSupplierContext(p: Platform, deps: SupplierDeps, options: SupplierServiceOptions): SupplierContext {
  async function getSupplier(id: string): Promise<SupplierRow> {
    const [row] = await p.db.select().from(suppliers).where(eq(suppliers.id, id));
    if (!row) throw notFound('supplier', id);
    return row;
  }

  function credentialsOf(row: SupplierRow): Credentials {
    // The supplier id is the associated data: sealed credentials copied to another row do not open.
    return JSON.parse(p.keyRing.unwrap(row.credentialsKeyId, row.credentialsSealed, row.id).toString('utf8')) as Credentials;
  }

  function adapterOf(row: SupplierRow): SupplierAdapter {
    if (options.adapterFor) return options.adapterFor(row);
    if (row.adapter !== 'http_json') throw new Error(`supplier ${row.id}: unknown adapter ${row.adapter}`);
    const creds = credentialsOf(row);
    return createHttpJsonAdapter({ baseUrl: row.baseUrl, apiKey: creds.apiKey, callbackSecret: creds.callbackSecret, timeoutMs: row.timeoutMs, clock: p.clock, allowedHosts: options.allowedHosts });
  }

  async function recordHealth(row: SupplierRow, error: string | null) {
    const now = p.clock.now();
    if (error === null) {
      await p.db.update(suppliers).set({ health: 'up', consecutiveFailures: 0, lastError: null, lastCheckedAt: now }).where(eq(suppliers.id, row.id));
      return;
    }
    const [after] = await p.db
      .update(suppliers)
      .set({
        consecutiveFailures: sql`${suppliers.consecutiveFailures} + 1`,
        health: sql`case when ${suppliers.consecutiveFailures} + 1 >= ${DOWN_AFTER_FAILURES} then 'down' else 'degraded' end`,
        lastError: error.slice(0, 500),
        lastCheckedAt: now,
      })
      .where(eq(suppliers.id, row.id))
      .returning({ failures: suppliers.consecutiveFailures });
    if (after?.failures === DOWN_AFTER_FAILURES) await raiseDown(row, error);
  }

  async function raiseDown(row: SupplierRow, error: string) {
    await deps.alerts.raise({
      kind: 'supplier_down',
      subjectType: 'supplier',
      subjectId: row.id,
      severity: 'critical',
      message: `supplier ${row.name} is down after ${DOWN_AFTER_FAILURES} failed calls: ${error.slice(0, 200)}`,
      details: { supplier_id: row.id, last_error: error.slice(0, 500) },
    });
  }

  async function call<T>(row: SupplierRow, fn: (adapter: SupplierAdapter) => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await fn(adapterOf(row));
    } catch (err) {
      await recordHealth(row, err instanceof Error ? err.message : String(err)).catch((e: unknown) => p.logger.error({ err: e, supplier: row.id }, 'could not record supplier health'));
      throw err;
    }
    await recordHealth(row, null).catch((e: unknown) => p.logger.error({ err: e, supplier: row.id }, 'could not record supplier health'));
    return result;
  }

  return { p, deps, options, getSupplier, credentialsOf, adapterOf, call };
}
