/**
 * One interface for every way of paying. The payments service (and through
 * it the orders module) only ever talks to this; adapters speak the
 * providers' protocols (WeChat Pay API v3, Telegram Stars, the sandbox).
 * The buyer's own balance is not an adapter: it is a ledger transfer.
 */
export type ProviderName = 'wechat' | 'stars' | 'sandbox';

export interface CreatePaymentInput {
  /** Our trade number (WeChat out_trade_no): unique per payment, what notifications and queries refer to. */
  tradeNo: string;
  orderId: string;
  amountFen: number;
  description: string;
  /** Who pays, as the provider knows them (WeChat openid for JSAPI / mini-program). */
  payer?: { openid?: string; telegramUserId?: string };
  /** Where the provider sends its payment notification. */
  notifyUrl: string;
  /** When the provider should stop accepting payment. */
  expiresAt: Date;
}

export interface CreatePaymentResult {
  /** What the client needs to pay (for WeChat: the signed parameters for wx.requestPayment). Never secret. */
  clientParams: Record<string, unknown>;
  /** What we keep about the payment on our side (e.g. prepay_id). */
  providerData: Record<string, unknown>;
}

export type ProviderPaymentStatus = 'pending' | 'succeeded' | 'failed' | 'closed';

/** A provider's word about one payment, from a verified notification or a query. */
export interface ProviderPaymentState {
  tradeNo: string;
  status: ProviderPaymentStatus;
  /** The provider's transaction id, once paid. */
  providerTxnId?: string;
  /** What was actually paid, in fen: must equal the order's amount exactly. */
  amountFen?: number;
  paidAt?: Date;
  /** What was paid in the provider's own unit when that is not fen (Telegram Stars), for the records. */
  paid?: { amount: number; currency: string };
  /** Facts to keep in the payment's providerData once applied (e.g. the Telegram payer a refund must name). */
  providerData?: Record<string, unknown>;
}

export interface RefundInput {
  refundId: string;
  tradeNo: string;
  providerTxnId?: string;
  amountFen: number;
  totalFen: number;
  reason: string;
  notifyUrl?: string;
  /** Who paid, as the provider knows them (Telegram Stars refunds name the payer's user id). */
  payer?: { telegramUserId?: string };
}

export interface RefundResult {
  status: 'pending' | 'succeeded' | 'failed';
  providerRefundId?: string;
}

export class InvalidNotificationError extends Error {}

/** A notification's header, case-insensitive; a repeated header counts as absent (it could be smuggled in twice). */
export function notificationHeader(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const values = Object.entries(headers)
    .filter(([key, value]) => key.toLowerCase() === wanted && value !== undefined)
    .flatMap(([, value]) => (Array.isArray(value) ? value : [value as string]));
  return values.length === 1 ? values[0] : undefined;
}


export interface PaymentProvider {
  readonly name: ProviderName;
  create(input: CreatePaymentInput): Promise<CreatePaymentResult>;
  /** Verifies (signature, timestamp, decryption) and reads a payment notification; throws InvalidNotificationError. */
  parseNotification(headers: Record<string, string | string[] | undefined>, rawBody: string): Promise<ProviderPaymentState>;
  /** Asks the provider directly: catches a notification that never came. */
  query(tradeNo: string): Promise<ProviderPaymentState>;
  refund(input: RefundInput): Promise<RefundResult>;
  /** What to answer the provider after handling a notification (WeChat wants 200/204, or a 4xx/5xx JSON to retry). */
  acknowledge(handled: boolean): { statusCode: number; body?: Record<string, unknown> };
}
