/**
 * One interface for every upstream supplier. Adapters translate a supplier's
 * own API into these calls; the procurement service (routing, failover,
 * sync) only ever talks to this interface.
 */
export interface SupplierProduct {
  externalSku: string;
  name: string;
  costFen: number;
  stock: number;
  available: boolean;
  /** The supplier's own change marker (timestamp or version), for incremental sync. */
  updatedAt: string;
}

export interface DeliveredCode {
  cardNumber?: string;
  secret: string;
  expiresAt?: string;
}

/** What a supplier says about one of our orders. */
export interface SupplierOrderState {
  /** not_found: the supplier has no order with our reference (safe to try elsewhere). */
  status: 'pending' | 'succeeded' | 'failed' | 'not_found';
  supplierOrderId?: string;
  costFen?: number;
  /** For code purchases: the codes bought. */
  codes?: DeliveredCode[];
  error?: string;
}

export interface PlaceOrderRequest {
  /** Our idempotent reference: placing twice with the same one must not buy twice. */
  externalRef: string;
  externalSku: string;
  quantity: number;
  /** Top-up target account, for direct top-up products. */
  account?: string;
  callbackUrl?: string;
}

export interface VerifiedCallback {
  externalRef: string;
  state: SupplierOrderState;
}

export interface SupplierAdapter {
  listProducts(sinceCursor?: string | null): Promise<{ products: SupplierProduct[]; cursor: string }>;
  balance(): Promise<{ balanceFen: number }>;
  placeOrder(req: PlaceOrderRequest): Promise<SupplierOrderState>;
  queryOrder(externalRef: string): Promise<SupplierOrderState>;
  /** Null when the signature or timestamp does not check out. */
  verifyCallback(headers: Record<string, string | string[] | undefined>, rawBody: string): VerifiedCallback | null;
}

/** A call that may or may not have reached the supplier (timeout, connection reset): never assume either. */
export class SupplierUncertainError extends Error {}
/** A call the supplier clearly refused or could not take (4xx/5xx with a body, bad response). */
export class SupplierCallError extends Error {}
