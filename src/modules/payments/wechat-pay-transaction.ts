import type { ProviderPaymentState, ProviderPaymentStatus } from './provider.js';
import { isRecord } from './wechat-pay-protocol.js';

/**
 * Reads a WeChat Pay v3 transaction object (a query answer or a decrypted
 * notification resource) into our ProviderPaymentState. Shared by both so the
 * two ways of learning about a payment can never disagree.
 */

const tradeStates: Record<string, ProviderPaymentStatus> = {
  SUCCESS: 'succeeded',
  // REFUND: the buyer did pay; a refund has been started since. The payment itself succeeded.
  REFUND: 'succeeded',
  NOTPAY: 'pending',
  USERPAYING: 'pending',
  CLOSED: 'closed',
  REVOKED: 'closed',
  PAYERROR: 'failed',
};

export interface TransactionExpectations {
  appId: string;
  mchId: string;
}

/** `fail` builds the error to throw, so notifications throw InvalidNotificationError and queries a WeChatPayError. */
export function readTransaction(value: unknown, expect: TransactionExpectations, fail: (message: string) => Error): ProviderPaymentState {
  if (!isRecord(value)) throw fail('transaction is not a JSON object');
  const { mchid, appid, out_trade_no: tradeNo, trade_state: tradeState, transaction_id: txnId, amount, success_time: successTime } = value;
  // Another merchant's (or another app's) payment must never settle one of our orders.
  if (mchid !== expect.mchId) throw fail(`transaction belongs to mchid ${String(mchid)}, not ${expect.mchId}`);
  if (appid !== expect.appId) throw fail(`transaction belongs to appid ${String(appid)}, not ${expect.appId}`);
  if (typeof tradeNo !== 'string' || tradeNo === '') throw fail('transaction has no out_trade_no');
  if (typeof tradeState !== 'string') throw fail(`transaction ${tradeNo} has no trade_state`);
  const status = tradeStates[tradeState];
  if (!status) throw fail(`transaction ${tradeNo} has unknown trade_state ${tradeState}`);

  if (status !== 'succeeded') {
    // Nothing was paid, so no amount is reported: amountFen means "what was actually paid".
    return typeof txnId === 'string' && txnId !== '' ? { tradeNo, status, providerTxnId: txnId } : { tradeNo, status };
  }

  if (typeof txnId !== 'string' || txnId === '') throw fail(`paid transaction ${tradeNo} has no transaction_id`);
  if (!isRecord(amount)) throw fail(`paid transaction ${tradeNo} has no amount`);
  // amount.total is the order total in fen; payer_total can be lower when a WeChat coupon paid part of it,
  // and the merchant is still settled the total, so total is what must match the order.
  const total = amount.total;
  if (typeof total !== 'number' || !Number.isSafeInteger(total) || total <= 0) {
    throw fail(`paid transaction ${tradeNo} has amount.total ${JSON.stringify(total)}, not a positive integer of fen`);
  }
  if (amount.currency !== undefined && amount.currency !== 'CNY') throw fail(`paid transaction ${tradeNo} is in ${String(amount.currency)}, not CNY`);
  if (typeof successTime !== 'string') throw fail(`paid transaction ${tradeNo} has no success_time`);
  const paidAt = new Date(successTime);
  if (Number.isNaN(paidAt.getTime())) throw fail(`paid transaction ${tradeNo} has an unreadable success_time ${successTime}`);
  return { tradeNo, status, providerTxnId: txnId, amountFen: total, paidAt };
}
