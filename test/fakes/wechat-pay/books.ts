import { randomBytes } from 'node:crypto';

/**
 * The fake WeChat Pay's books: transactions and refunds with the rules of
 * the real API v3 (JSAPI create, query by out_trade_no, domestic refunds).
 * No I/O here; server.ts puts HTTP, signatures and notifications around it.
 */

export type TradeState = 'NOTPAY' | 'SUCCESS' | 'REFUND' | 'CLOSED' | 'REVOKED' | 'USERPAYING' | 'PAYERROR';
export type RefundStatus = 'SUCCESS' | 'PROCESSING' | 'ABNORMAL' | 'CLOSED';

export interface FakeTransaction {
  appid: string;
  mchid: string;
  outTradeNo: string;
  description: string;
  notifyUrl: string;
  timeExpire: string;
  totalFen: number;
  openid: string;
  prepayId: string;
  state: TradeState;
  transactionId?: string;
  payerTotalFen?: number;
  successTime?: string;
  refundedFen: number;
}

export interface FakeRefund {
  refundId: string;
  outRefundNo: string;
  outTradeNo: string;
  transactionId: string;
  refundFen: number;
  totalFen: number;
  reason: string;
  status: RefundStatus;
  createTime: string;
}

/** An answer: HTTP status and JSON body (undefined for 204). */
export interface Answer {
  status: number;
  json?: unknown;
}

const err = (status: number, code: string, message: string): Answer => ({ status, json: { code, message } });

export function rfc3339(at: Date): string {
  return `${new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 19)}+08:00`;
}

function randomDigits(n: number): string {
  return Array.from(randomBytes(n), (b) => String(b % 10)).join('');
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class FakeBooks {
  readonly transactions = new Map<string, FakeTransaction>();
  readonly refunds = new Map<string, FakeRefund>();

  constructor(
    private readonly appId: string,
    private readonly mchId: string,
    private readonly now: () => Date,
  ) {}

  createJsapi(body: Record<string, unknown>): Answer {
    const { appid, mchid, description, out_trade_no: no, time_expire: expire, notify_url: notifyUrl, amount, payer } = body;
    if (appid !== this.appId) return err(400, 'PARAM_ERROR', 'appid和mch_id不匹配');
    if (mchid !== this.mchId) return err(400, 'PARAM_ERROR', 'mchid无效');
    if (typeof description !== 'string' || description === '' || Buffer.byteLength(description) > 127) return err(400, 'PARAM_ERROR', '参数错误: description');
    if (typeof no !== 'string' || !/^[0-9A-Za-z_\-|*]{6,32}$/.test(no)) return err(400, 'PARAM_ERROR', '参数错误: out_trade_no');
    if (typeof notifyUrl !== 'string' || !/^https?:\/\//.test(notifyUrl)) return err(400, 'PARAM_ERROR', '参数错误: notify_url');
    if (typeof expire !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$/.test(expire)) return err(400, 'PARAM_ERROR', '参数错误: time_expire');
    if (new Date(expire).getTime() <= this.now().getTime()) return err(400, 'PARAM_ERROR', 'time_expire时间过短');
    if (!isObj(amount) || !isInt(amount.total) || amount.total <= 0 || amount.currency !== 'CNY') return err(400, 'PARAM_ERROR', '参数错误: amount');
    if (!isObj(payer) || typeof payer.openid !== 'string' || payer.openid === '') return err(400, 'PARAM_ERROR', '参数错误: payer.openid');

    const existing = this.transactions.get(no);
    if (existing) {
      if (existing.state === 'SUCCESS' || existing.state === 'REFUND') return err(400, 'ORDERPAID', '该订单已支付');
      if (existing.state === 'CLOSED') return err(400, 'ORDERCLOSED', '订单已关闭');
      // The same request again yields the same prepay_id; different terms under the same number are refused.
      if (existing.totalFen !== amount.total || existing.description !== description || existing.openid !== payer.openid) {
        return err(400, 'INVALID_REQUEST', '201 商户订单号重复');
      }
      return { status: 200, json: { prepay_id: existing.prepayId } };
    }
    const tx: FakeTransaction = {
      appid: this.appId,
      mchid: this.mchId,
      outTradeNo: no,
      description,
      notifyUrl,
      timeExpire: expire,
      totalFen: amount.total,
      openid: payer.openid,
      prepayId: `wx${randomBytes(14).toString('hex')}`,
      state: 'NOTPAY',
      refundedFen: 0,
    };
    this.transactions.set(no, tx);
    return { status: 200, json: { prepay_id: tx.prepayId } };
  }

  /** Like WeChat: an unpaid trade past its time_expire is CLOSED. */
  expire(tx: FakeTransaction): void {
    if ((tx.state === 'NOTPAY' || tx.state === 'USERPAYING') && new Date(tx.timeExpire).getTime() <= this.now().getTime()) tx.state = 'CLOSED';
  }

  query(no: string, mchid: string | null): Answer {
    if (mchid !== this.mchId) return err(400, 'PARAM_ERROR', '参数错误: mchid');
    const tx = this.transactions.get(no);
    if (!tx) return err(404, 'ORDER_NOT_EXIST', '订单不存在');
    this.expire(tx);
    return { status: 200, json: transactionJson(tx) };
  }

  pay(no: string, amountFen?: number): FakeTransaction {
    const tx = this.transactions.get(no);
    if (!tx) throw new Error(`fake WeChat Pay: no transaction ${no} (create it first)`);
    this.expire(tx);
    if (tx.state !== 'NOTPAY' && tx.state !== 'USERPAYING') throw new Error(`fake WeChat Pay: transaction ${no} is ${tx.state}, cannot be paid`);
    tx.state = 'SUCCESS';
    // Overriding the amount lets tests send a genuine, correctly signed notification whose amount is not the order's.
    if (amountFen !== undefined) tx.totalFen = amountFen;
    tx.payerTotalFen = tx.totalFen;
    tx.transactionId = `4200${randomDigits(24)}`;
    tx.successTime = rfc3339(this.now());
    return tx;
  }

  setState(no: string, state: TradeState): FakeTransaction {
    const tx = this.transactions.get(no);
    if (!tx) throw new Error(`fake WeChat Pay: no transaction ${no}`);
    tx.state = state;
    return tx;
  }

  /** New refunds get `status` (WeChat mostly answers PROCESSING, then notifies). */
  refund(body: Record<string, unknown>, status: RefundStatus): Answer {
    const { out_trade_no: no, transaction_id: txnId, out_refund_no: refundNo, reason, amount } = body;
    if (typeof refundNo !== 'string' || !/^[0-9A-Za-z_\-|*@]{1,64}$/.test(refundNo)) return err(400, 'PARAM_ERROR', '参数错误: out_refund_no');
    if (!isObj(amount) || !isInt(amount.refund) || !isInt(amount.total) || amount.refund <= 0 || amount.currency !== 'CNY') return err(400, 'PARAM_ERROR', '参数错误: amount');
    if (reason !== undefined && (typeof reason !== 'string' || Buffer.byteLength(reason) > 80)) return err(400, 'PARAM_ERROR', '参数错误: reason');
    const tx =
      typeof no === 'string' ? this.transactions.get(no) : [...this.transactions.values()].find((t) => t.transactionId !== undefined && t.transactionId === txnId);
    if (!tx) return err(404, 'RESOURCE_NOT_EXISTS', '订单不存在');

    const existing = this.refunds.get(refundNo);
    if (existing) {
      // Retrying with the same out_refund_no is how a merchant makes refunds idempotent.
      if (existing.outTradeNo !== tx.outTradeNo || existing.refundFen !== amount.refund) return err(400, 'INVALID_REQUEST', '退款单号重复，且退款信息与原退款单不一致');
      return { status: 200, json: refundJson(existing, tx) };
    }
    if (tx.state !== 'SUCCESS' && tx.state !== 'REFUND') return err(400, 'INVALID_REQUEST', '订单未支付，不能退款');
    if (amount.total !== tx.totalFen) return err(400, 'INVALID_REQUEST', '订单金额与原订单金额不一致');
    if (amount.refund > tx.totalFen - tx.refundedFen) return err(400, 'INVALID_REQUEST', '申请退款金额超过订单可退金额');

    const refund: FakeRefund = {
      refundId: `5030${randomDigits(25)}`,
      outRefundNo: refundNo,
      outTradeNo: tx.outTradeNo,
      transactionId: tx.transactionId ?? '',
      refundFen: amount.refund,
      totalFen: tx.totalFen,
      reason: typeof reason === 'string' ? reason : '',
      status,
      createTime: rfc3339(this.now()),
    };
    this.refunds.set(refundNo, refund);
    if (refund.status !== 'CLOSED') tx.refundedFen += refund.refundFen;
    tx.state = 'REFUND';
    return { status: 200, json: refundJson(refund, tx) };
  }
}

/** The v3 transaction object, as a query answers and a notification's resource carries. */
export function transactionJson(tx: FakeTransaction): Record<string, unknown> {
  const paid = tx.state === 'SUCCESS' || tx.state === 'REFUND';
  return {
    appid: tx.appid,
    mchid: tx.mchid,
    out_trade_no: tx.outTradeNo,
    ...(tx.transactionId ? { transaction_id: tx.transactionId } : {}),
    trade_type: 'JSAPI',
    trade_state: tx.state,
    trade_state_desc: tradeStateDesc[tx.state],
    ...(paid ? { bank_type: 'OTHERS', success_time: tx.successTime } : {}),
    attach: '',
    payer: { openid: tx.openid },
    amount: paid
      ? { total: tx.totalFen, payer_total: tx.payerTotalFen ?? tx.totalFen, currency: 'CNY', payer_currency: 'CNY' }
      : { total: tx.totalFen, currency: 'CNY' },
  };
}

function refundJson(r: FakeRefund, tx: FakeTransaction): Record<string, unknown> {
  return {
    refund_id: r.refundId,
    out_refund_no: r.outRefundNo,
    transaction_id: r.transactionId,
    out_trade_no: r.outTradeNo,
    channel: 'ORIGINAL',
    user_received_account: '支付用户零钱',
    ...(r.status === 'SUCCESS' ? { success_time: r.createTime } : {}),
    create_time: r.createTime,
    status: r.status,
    funds_account: 'AVAILABLE',
    amount: {
      total: tx.totalFen,
      refund: r.refundFen,
      payer_total: tx.payerTotalFen ?? tx.totalFen,
      payer_refund: r.refundFen,
      settlement_refund: r.refundFen,
      settlement_total: tx.totalFen,
      discount_refund: 0,
      currency: 'CNY',
    },
  };
}

const tradeStateDesc: Record<TradeState, string> = {
  NOTPAY: '订单未支付',
  SUCCESS: '支付成功',
  REFUND: '转入退款',
  CLOSED: '已关闭',
  REVOKED: '已撤销',
  USERPAYING: '用户支付中',
  PAYERROR: '支付失败',
};
