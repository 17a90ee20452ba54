import type { Clock } from '../../lib/clock.js';
import { hmacSha256Hex, safeEqual } from '../../lib/crypto.js';
import {
  InvalidNotificationError,
  notificationHeader as header,
  type CreatePaymentInput,
  type CreatePaymentResult,
  type PaymentProvider,
  type ProviderPaymentState,
  type ProviderPaymentStatus,
  type RefundInput,
  type RefundResult,
} from './provider.js';

/**
 * SANDBOX PAYMENTS — FOR DEMOS AND TESTS ONLY. No money moves: anyone who
 * knows the sandbox secret can "pay" any order. Never enable it in
 * production.
 *
 * Notifications are JSON { trade_no, amount_fen, status, txn_id, timestamp }
 * with X-Sandbox-Timestamp and X-Sandbox-Signature =
 * hex HMAC-SHA256(secret, `${timestamp}.${rawBody}`), the scheme of our own
 * signed webhooks.
 */

export interface SandboxNotification {
  trade_no: string;
  amount_fen: number;
  status: ProviderPaymentStatus;
  /** Required when status is 'succeeded'. */
  txn_id?: string;
  /** Unix seconds; must equal X-Sandbox-Timestamp. */
  timestamp: number;
}

export interface SandboxProviderOptions {
  secret: string;
  clock: Clock;
  /** Prefix of the pay_url hint given to clients, default "/sandbox/pay". */
  payUrlBase?: string;
}

export interface SandboxProvider extends PaymentProvider {
  readonly name: 'sandbox';
  /** Records a payment as made (what query will answer) and returns that state. */
  markPaid(tradeNo: string, amountFen: number, txnId?: string): ProviderPaymentState;
}

export const SANDBOX_SIGNATURE_HEADER = 'X-Sandbox-Signature';
export const SANDBOX_TIMESTAMP_HEADER = 'X-Sandbox-Timestamp';
const TOLERANCE_SECONDS = 300;

/** Builds a signed sandbox notification, for tests and the demo's "pay" button. */
export function signSandboxNotification(
  secret: string,
  payload: Omit<SandboxNotification, 'timestamp'> & { timestamp?: number },
  now: Date,
): { headers: Record<string, string>; body: string } {
  const timestamp = payload.timestamp ?? Math.floor(now.getTime() / 1000);
  const body = JSON.stringify({ ...payload, timestamp });
  return {
    headers: {
      'Content-Type': 'application/json',
      [SANDBOX_TIMESTAMP_HEADER]: String(timestamp),
      [SANDBOX_SIGNATURE_HEADER]: hmacSha256Hex(secret, `${timestamp}.${body}`),
    },
    body,
  };
}

const statuses: readonly ProviderPaymentStatus[] = ['pending', 'succeeded', 'failed', 'closed'];

export function createSandboxProvider(opts: SandboxProviderOptions): SandboxProvider {
  const { secret, clock } = opts;
  if (secret.length < 16) throw new Error('sandbox payment secret must be at least 16 characters');
  const payUrlBase = (opts.payUrlBase ?? '/sandbox/pay').replace(/\/+$/, '');
  const paid = new Map<string, ProviderPaymentState>();
  const created = new Map<string, { expiresAt: Date }>();

  function invalid(message: string): InvalidNotificationError {
    return new InvalidNotificationError(`sandbox notification: ${message}`);
  }

  return {
    name: 'sandbox',

    async create(input: CreatePaymentInput): Promise<CreatePaymentResult> {
      assertFen(input.amountFen);
      if (!input.tradeNo) throw new Error('sandbox payment needs a tradeNo');
      created.set(input.tradeNo, { expiresAt: input.expiresAt });
      return {
        clientParams: {
          sandbox: true,
          trade_no: input.tradeNo,
          amount_fen: input.amountFen,
          expires_at: input.expiresAt.toISOString(),
          pay_url: `${payUrlBase}/${encodeURIComponent(input.tradeNo)}`,
        },
        providerData: { sandbox: true },
      };
    },

    async parseNotification(headers, rawBody): Promise<ProviderPaymentState> {
      const timestamp = header(headers, SANDBOX_TIMESTAMP_HEADER);
      const signature = header(headers, SANDBOX_SIGNATURE_HEADER);
      if (!timestamp || !/^\d{1,12}$/.test(timestamp)) throw invalid(`${SANDBOX_TIMESTAMP_HEADER} missing, repeated or not a number`);
      if (!signature) throw invalid(`${SANDBOX_SIGNATURE_HEADER} missing or repeated`);
      const skew = Math.abs(Math.floor(clock.now().getTime() / 1000) - Number(timestamp));
      if (skew > TOLERANCE_SECONDS) throw invalid(`timestamp ${timestamp} is ${skew} s away from now (tolerance ${TOLERANCE_SECONDS} s)`);
      if (!safeEqual(hmacSha256Hex(secret, `${timestamp}.${rawBody}`), signature)) throw invalid('signature does not match');

      let body: unknown;
      try {
        body = JSON.parse(rawBody) as unknown;
      } catch {
        throw invalid('body is not JSON');
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('body is not a JSON object');
      const { trade_no: tradeNo, amount_fen: amountFen, status, txn_id: txnId, timestamp: bodyTimestamp } = body as Record<string, unknown>;
      if (bodyTimestamp !== Number(timestamp)) throw invalid('body timestamp differs from the signed header');
      if (typeof tradeNo !== 'string' || tradeNo === '') throw invalid('trade_no missing');
      if (typeof status !== 'string' || !(statuses as readonly string[]).includes(status)) throw invalid(`unknown status ${String(status)}`);
      if (typeof amountFen !== 'number' || !Number.isSafeInteger(amountFen) || amountFen < 0) throw invalid(`amount_fen ${JSON.stringify(amountFen)} is not an integer of fen`);
      if (status !== 'succeeded') return { tradeNo, status: status as ProviderPaymentStatus };
      if (amountFen === 0) throw invalid('a succeeded payment of 0 fen');
      if (typeof txnId !== 'string' || txnId === '') throw invalid('txn_id missing on a succeeded payment');
      return { tradeNo, status: 'succeeded', providerTxnId: txnId, amountFen, paidAt: new Date(Number(timestamp) * 1000) };
    },

    async query(tradeNo: string): Promise<ProviderPaymentState> {
      const payment = paid.get(tradeNo);
      if (payment) return { ...payment };
      const trade = created.get(tradeNo);
      if (trade && trade.expiresAt.getTime() <= clock.now().getTime()) return { tradeNo, status: 'closed' };
      // Unknown here is not "closed": the sandbox keeps nothing durable, so after a restart or on another
      // instance it cannot know; the order's own expiry closes it.
      return { tradeNo, status: 'pending' };
    },

    async refund(input: RefundInput): Promise<RefundResult> {
      assertFen(input.amountFen);
      assertFen(input.totalFen);
      if (input.amountFen > input.totalFen) throw new Error(`sandbox refund ${input.refundId}: ${input.amountFen} fen is more than the payment's ${input.totalFen}`);
      return { status: 'succeeded', providerRefundId: `sandbox_refund_${input.refundId}` };
    },

    acknowledge(handled: boolean) {
      return handled ? { statusCode: 204 } : { statusCode: 500, body: { code: 'FAIL', message: 'notification not handled, please retry' } };
    },

    markPaid(tradeNo: string, amountFen: number, txnId?: string): ProviderPaymentState {
      assertFen(amountFen);
      const state: ProviderPaymentState = {
        tradeNo,
        status: 'succeeded',
        providerTxnId: txnId ?? `sandbox_txn_${tradeNo}`,
        amountFen,
        paidAt: clock.now(),
      };
      paid.set(tradeNo, state);
      return { ...state };
    },
  };
}

function assertFen(value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`sandbox amount must be a positive integer of fen (got ${value})`);
}

