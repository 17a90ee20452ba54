import type { KeyObject } from 'node:crypto';
import type { Clock } from '../../lib/clock.js';
import {
  InvalidNotificationError,
  type CreatePaymentInput,
  type CreatePaymentResult,
  type PaymentProvider,
  type ProviderPaymentState,
  type RefundInput,
  type RefundResult,
} from './provider.js';
import {
  AUTH_SCHEMA,
  decryptResource,
  isRecord,
  newNonce,
  readRsaPrivateKey,
  readRsaPublicKey,
  rfc3339Beijing,
  rsaSign,
  rsaVerify,
  signatureMessage,
  singleHeader,
  truncateUtf8,
  unixSeconds,
  type HeaderBag,
} from './wechat-pay-protocol.js';
import { readTransaction } from './wechat-pay-transaction.js';

/**
 * WeChat Pay API v3 adapter for JSAPI / mini-program payments: signed
 * requests, verified responses and notifications, decrypted resources.
 * Protocol: https://pay.weixin.qq.com/docs/merchant/development/interface-rules/introduction.html
 */

export interface WeChatPayOptions {
  /** Default https://api.mch.weixin.qq.com; tests point it at test/fakes/wechat-pay. */
  baseUrl?: string;
  /** The mini-program's / Official Account's appid the merchant is bound to. */
  appId: string;
  mchId: string;
  /** Serial number of the merchant API certificate (serial_no in Authorization). */
  merchantSerialNo: string;
  /** apiclient_key.pem (PKCS#8 or PKCS#1). */
  merchantPrivateKeyPem: string;
  /** The 32-character APIv3 key that seals notification resources. */
  apiV3Key: string;
  /** Platform public keys (or platform certificates) by serial, as sent in Wechatpay-Serial. Several during a rotation. */
  platformPublicKeys: Record<string, string>;
  /** Per request, default 10 000. */
  timeoutMs?: number;
  /** How far a notification's Wechatpay-Timestamp may be from our clock, default 300. */
  notificationToleranceSeconds?: number;
}

/** An answer from WeChat Pay that is not a success, or no usable answer at all. */
export class WeChatPayError extends Error {
  override readonly name = 'WeChatPayError';
  constructor(
    /** WeChat's own code (ORDER_NOT_EXIST, PARAM_ERROR, SIGN_ERROR, …) or ours: TIMEOUT, NETWORK_ERROR, INVALID_RESPONSE_SIGNATURE, INVALID_RESPONSE, HTTP_<status>. */
    readonly code: string,
    message: string,
    readonly httpStatus?: number,
    /** Whether the answer carried a valid platform signature (only then may its content change what we do). */
    readonly signatureVerified = false,
  ) {
    super(message);
  }
}

const DEFAULT_BASE_URL = 'https://api.mch.weixin.qq.com';
const TRADE_NO = /^[0-9A-Za-z_\-|*]{6,32}$/;
const REFUND_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;

export function createWeChatPayProvider(options: WeChatPayOptions, clock: Clock): PaymentProvider {
  const { appId, mchId, merchantSerialNo } = options;
  if (!appId || !mchId || !merchantSerialNo) throw new Error('WeChat Pay needs appId, mchId and merchantSerialNo');
  const baseUrl = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
  const apiV3Key = Buffer.from(options.apiV3Key, 'utf8');
  if (apiV3Key.length !== 32) throw new Error(`WeChat Pay apiV3Key must be 32 bytes (got ${apiV3Key.length})`);
  // Keys are read once here so that a bad PEM stops the start, not the first payment.
  const merchantKey = readRsaPrivateKey(options.merchantPrivateKeyPem, 'WeChat Pay merchantPrivateKeyPem');
  const platformKeys = new Map<string, KeyObject>();
  for (const [serial, pem] of Object.entries(options.platformPublicKeys)) {
    platformKeys.set(serial, readRsaPublicKey(pem, `WeChat Pay platform public key ${serial}`));
  }
  if (platformKeys.size === 0) throw new Error('WeChat Pay needs at least one platform public key');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const toleranceSeconds = options.notificationToleranceSeconds ?? 300;
  const expect = { appId, mchId };

  /** Why a platform signature does not hold, or null when it does. */
  function platformSignatureProblem(get: (name: string) => string | undefined | null, body: string): string | null {
    const serial = get('Wechatpay-Serial');
    const signature = get('Wechatpay-Signature');
    const timestamp = get('Wechatpay-Timestamp');
    const nonce = get('Wechatpay-Nonce');
    if (!serial || !signature || !timestamp || !nonce) return 'Wechatpay-Serial, -Signature, -Timestamp or -Nonce header missing';
    const key = platformKeys.get(serial);
    if (!key) return `unknown platform serial ${serial}`;
    // Signatures starting WECHATPAY/SIGNTEST/ are WeChat probing that we verify; they fail here like any wrong one.
    if (!rsaVerify(key, signatureMessage(timestamp, nonce, body), signature)) return `signature does not verify with platform key ${serial}`;
    return null;
  }

  async function call(method: 'GET' | 'POST', pathWithQuery: string, body?: Record<string, unknown>): Promise<unknown> {
    const bodyText = body === undefined ? '' : JSON.stringify(body);
    const timestamp = String(unixSeconds(clock.now()));
    const nonce = newNonce();
    const signature = rsaSign(merchantKey, signatureMessage(method, pathWithQuery, timestamp, nonce, bodyText));
    const authorization = `${AUTH_SCHEMA} mchid="${mchId}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${merchantSerialNo}"`;
    const what = `WeChat Pay ${method} ${pathWithQuery.split('?')[0]}`;

    let status: number;
    let text: string;
    let headers: Headers;
    try {
      const res = await fetch(`${baseUrl}${pathWithQuery}`, {
        method,
        headers: {
          Authorization: authorization,
          Accept: 'application/json',
          'User-Agent': 'kaquan',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : bodyText,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      headers = res.headers;
      text = await res.text();
    } catch (err) {
      // A timeout leaves the outcome unknown (a create may have reached WeChat): callers query, never assume.
      if (isNamed(err, 'TimeoutError')) throw new WeChatPayError('TIMEOUT', `${what} got no answer within ${timeoutMs} ms`);
      throw new WeChatPayError('NETWORK_ERROR', `${what} failed: ${err instanceof Error ? err.message : String(err)}`);
    }

    // No freshness check on answers: they come back on our own TLS connection, and a skewed clock must not stop payments.
    const problem = platformSignatureProblem((name) => headers.get(name), text);
    if (status >= 200 && status < 300) {
      if (problem) throw new WeChatPayError('INVALID_RESPONSE_SIGNATURE', `${what}: response rejected, ${problem}`, status);
      if (text === '') return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new WeChatPayError('INVALID_RESPONSE', `${what}: response is not JSON`, status, true);
      }
    }
    // An error is an error whether signed or not (WeChat does not sign its 401s); only a verified one may be acted on.
    const parsed = parseJsonObject(text);
    const code = typeof parsed?.code === 'string' ? parsed.code : `HTTP_${status}`;
    const message = typeof parsed?.message === 'string' ? parsed.message : text.slice(0, 200);
    throw new WeChatPayError(code, `${what}: ${status} ${code} ${message}${problem ? ` (unverified: ${problem})` : ''}`, status, problem === null);
  }

  function invalid(message: string): InvalidNotificationError {
    return new InvalidNotificationError(`WeChat Pay notification: ${message}`);
  }

  return {
    name: 'wechat',

    async create(input: CreatePaymentInput): Promise<CreatePaymentResult> {
      assertTradeNo(input.tradeNo);
      assertFen(input.amountFen, 'amountFen');
      const openid = input.payer?.openid;
      if (!openid) throw new Error('WeChat Pay JSAPI payment needs payer.openid');
      if (Number.isNaN(input.expiresAt.getTime()) || input.expiresAt.getTime() <= clock.now().getTime()) {
        throw new Error(`WeChat Pay payment ${input.tradeNo}: expiresAt must be in the future`);
      }
      const json = await call('POST', '/v3/pay/transactions/jsapi', {
        appid: appId,
        mchid: mchId,
        description: truncateUtf8(input.description, 127) || input.tradeNo,
        out_trade_no: input.tradeNo,
        time_expire: rfc3339Beijing(input.expiresAt),
        notify_url: input.notifyUrl,
        amount: { total: input.amountFen, currency: 'CNY' },
        payer: { openid },
      });
      const prepayId = isRecord(json) ? json.prepay_id : undefined;
      if (typeof prepayId !== 'string' || prepayId === '') throw new WeChatPayError('INVALID_RESPONSE', `WeChat Pay create ${input.tradeNo}: no prepay_id in the answer`, 200, true);

      // wx.requestPayment parameters; the client cannot sign, so we do, with the merchant key.
      const timeStamp = String(unixSeconds(clock.now()));
      const nonceStr = newNonce();
      const pkg = `prepay_id=${prepayId}`;
      const paySign = rsaSign(merchantKey, signatureMessage(appId, timeStamp, nonceStr, pkg));
      return {
        clientParams: { appId, timeStamp, nonceStr, package: pkg, signType: 'RSA', paySign },
        providerData: { prepay_id: prepayId },
      };
    },

    async parseNotification(headers: HeaderBag, rawBody: string): Promise<ProviderPaymentState> {
      const get = (name: string) => singleHeader(headers, name);
      const timestamp = get('Wechatpay-Timestamp');
      if (!timestamp || !/^\d{1,12}$/.test(timestamp)) throw invalid('Wechatpay-Timestamp missing, repeated or not a number');
      const skew = Math.abs(unixSeconds(clock.now()) - Number(timestamp));
      // A replayed old notification is refused even though its signature is genuine.
      if (skew > toleranceSeconds) throw invalid(`Wechatpay-Timestamp ${timestamp} is ${skew} s away from now (tolerance ${toleranceSeconds} s)`);
      const problem = platformSignatureProblem(get, rawBody);
      if (problem) throw invalid(problem);

      const envelope = parseJsonObject(rawBody);
      if (!envelope) throw invalid('body is not a JSON object');
      const { event_type: eventType, resource } = envelope;
      if (typeof eventType !== 'string' || !eventType.startsWith('TRANSACTION.')) throw invalid(`event_type ${String(eventType)} is not a payment event`);
      if (!isRecord(resource)) throw invalid('resource missing');
      if (resource.algorithm !== 'AEAD_AES_256_GCM') throw invalid(`resource algorithm ${String(resource.algorithm)} is not AEAD_AES_256_GCM`);
      if (resource.original_type !== undefined && resource.original_type !== 'transaction') throw invalid(`resource is a ${String(resource.original_type)}, not a transaction`);
      const { nonce, ciphertext } = resource;
      const associatedData = resource.associated_data ?? '';
      if (typeof nonce !== 'string' || typeof ciphertext !== 'string' || typeof associatedData !== 'string') throw invalid('resource nonce, ciphertext or associated_data missing');

      let plaintext: Buffer;
      try {
        plaintext = decryptResource(apiV3Key, { nonce, associatedData, ciphertext });
      } catch {
        throw invalid('resource does not decrypt (wrong APIv3 key or altered ciphertext)');
      }
      const transaction = parseJsonObject(plaintext.toString('utf8'));
      if (!transaction) throw invalid('decrypted resource is not a JSON object');
      return readTransaction(transaction, expect, invalid);
    },

    async query(tradeNo: string): Promise<ProviderPaymentState> {
      assertTradeNo(tradeNo);
      let json: unknown;
      try {
        json = await call('GET', `/v3/pay/transactions/out-trade-no/${encodeURIComponent(tradeNo)}?mchid=${encodeURIComponent(mchId)}`);
      } catch (err) {
        // ORDER_NOT_EXIST: WeChat never accepted a create for this trade number, so no money can arrive for it.
        // 'closed' lets reconciliation close the order; callers must only act on it once no create for the
        // trade can still be in flight (a create that timed out may land late). Trusted only when signed.
        if (err instanceof WeChatPayError && err.httpStatus === 404 && err.code === 'ORDER_NOT_EXIST' && err.signatureVerified) {
          return { tradeNo, status: 'closed' };
        }
        throw err;
      }
      const state = readTransaction(json, expect, (message) => new WeChatPayError('INVALID_RESPONSE', `WeChat Pay query ${tradeNo}: ${message}`, 200, true));
      if (state.tradeNo !== tradeNo) throw new WeChatPayError('INVALID_RESPONSE', `WeChat Pay query ${tradeNo} answered about ${state.tradeNo}`, 200, true);
      return state;
    },

    async refund(input: RefundInput): Promise<RefundResult> {
      assertTradeNo(input.tradeNo);
      if (!REFUND_NO.test(input.refundId)) throw new Error(`WeChat Pay refund id ${input.refundId} must be 1-64 of [0-9A-Za-z_-|*@]`);
      assertFen(input.amountFen, 'refund amountFen');
      assertFen(input.totalFen, 'refund totalFen');
      if (input.amountFen > input.totalFen) throw new Error(`WeChat Pay refund ${input.refundId}: ${input.amountFen} fen is more than the payment's ${input.totalFen}`);
      const json = await call('POST', '/v3/refund/domestic/refunds', {
        out_trade_no: input.tradeNo,
        out_refund_no: input.refundId,
        ...(input.reason ? { reason: truncateUtf8(input.reason, 80) } : {}),
        ...(input.notifyUrl ? { notify_url: input.notifyUrl } : {}),
        amount: { refund: input.amountFen, total: input.totalFen, currency: 'CNY' },
      });
      const refundStatus = isRecord(json) ? json.status : undefined;
      const refundId = isRecord(json) ? json.refund_id : undefined;
      const fail = (message: string) => new WeChatPayError('INVALID_RESPONSE', `WeChat Pay refund ${input.refundId}: ${message}`, 200, true);
      if (typeof refundId !== 'string' || refundId === '') throw fail('no refund_id in the answer');
      switch (refundStatus) {
        case 'SUCCESS':
          return { status: 'succeeded', providerRefundId: refundId };
        case 'PROCESSING':
          return { status: 'pending', providerRefundId: refundId };
        // ABNORMAL: the money left our balance but could not reach the buyer's card; it is finished by hand in
        // the merchant platform and then reported as SUCCESS. Calling it failed would invite a second refund.
        case 'ABNORMAL':
          return { status: 'pending', providerRefundId: refundId };
        case 'CLOSED':
          return { status: 'failed', providerRefundId: refundId };
        default:
          throw fail(`unknown refund status ${String(refundStatus)}`);
      }
    },

    acknowledge(handled: boolean) {
      // Any 4xx/5xx makes WeChat retry (15s, 15s, 30s, 3m, … for 24 h); 204 ends it.
      return handled ? { statusCode: 204 } : { statusCode: 500, body: { code: 'FAIL', message: 'notification not handled, please retry' } };
    },
  };
}

function assertTradeNo(tradeNo: string): void {
  if (!TRADE_NO.test(tradeNo)) throw new Error(`WeChat Pay trade number ${tradeNo} must be 6-32 of [0-9A-Za-z_-|*]`);
}

function assertFen(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`WeChat Pay ${what} must be a positive integer of fen (got ${value})`);
}

function parseJsonObject(text: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(text) as unknown;
    return isRecord(value) ? value : null;
  } catch {
    return null;
  }
}

function isNamed(err: unknown, name: string): boolean {
  return typeof err === 'object' && err !== null && 'name' in err && err.name === name;
}
