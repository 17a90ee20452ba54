import { createCipheriv, createPublicKey, generateKeyPairSync, randomBytes, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../../../src/lib/clock.js';
import { FakeBooks, rfc3339, transactionJson, type Answer, type FakeRefund, type FakeTransaction, type RefundStatus, type TradeState } from './books.js';

export type { FakeRefund, FakeTransaction, RefundStatus, TradeState } from './books.js';

/**
 * A local WeChat Pay API v3 (node:http, 127.0.0.1): checks the merchant's
 * request signatures, answers JSAPI create, query by out_trade_no and
 * domestic refunds with realistic JSON, signs every answer with its own
 * platform key, and sends real encrypted, signed payment notifications.
 * The crypto here is written from the protocol, independently of
 * src/modules/payments, so that a shared misreading cannot pass unnoticed.
 */

export interface FakeWeChatPayOptions {
  appId: string;
  mchId: string;
  apiV3Key: string;
  merchantPublicKeyPem: string;
  /** When given, requests must name this serial_no. */
  merchantSerialNo?: string;
  /** Request timestamps are checked against it (±5 min, like WeChat) and answers and notifications are stamped with it. */
  clock?: Clock;
}

/** Dials for the ways an answer can go wrong; change them at any time. */
export interface FakeBehaviour {
  /** valid | wrong (signed over other bytes) | unknown-serial | missing (no Wechatpay-* headers) */
  responseSignature: 'valid' | 'wrong' | 'unknown-serial' | 'missing';
  /** Delay before every answer. */
  latencyMs: number;
  /** Status given to new refunds. */
  refundStatus: RefundStatus;
}

export interface FakeRequest {
  method: string;
  /** Path with query, exactly as received (what the merchant signed). */
  path: string;
  body: string;
  /** Whether the Authorization header held a valid merchant signature. */
  signatureValid: boolean;
  /** Why not, when not. */
  signatureProblem?: string;
  status: number;
}

/**
 * signature: signature bytes altered. serial: an unknown Wechatpay-Serial.
 * timestamp: genuinely signed but 10 minutes old. amount: the resource is
 * re-encrypted with amount + 1 fen after signing (a forger who knows the APIv3
 * key but not the platform key). ciphertext: a ciphertext byte flipped, then
 * signed correctly (only the GCM tag can catch it).
 * For a genuine notification with an amount other than the order's, use pay(no, { amountFen }).
 */
export type NotificationTamper = 'signature' | 'serial' | 'timestamp' | 'amount' | 'ciphertext';

export interface BuildNotificationOptions {
  tamper?: NotificationTamper;
  /** Fields merged into the decrypted transaction (e.g. another mchid), encrypted and signed correctly. */
  resourcePatch?: Record<string, unknown>;
  /** Encrypt with this key instead of the merchant's APIv3 key. */
  apiV3Key?: string;
}

export interface SendNotificationOptions extends BuildNotificationOptions {
  url: string;
  /** Deliveries of the same notification, default 1 (WeChat retries resend it). */
  times?: number;
  /** Send all deliveries at once instead of one after another. */
  concurrent?: boolean;
  /** Wait before each delivery. */
  delayMs?: number;
}

export interface FakeWeChatPay {
  url: string;
  platformSerial: string;
  platformPublicKeyPem: string;
  behaviour: FakeBehaviour;
  /** Marks a created transaction paid: SUCCESS, a transaction_id, success_time now. amountFen overrides the amount WeChat reports. */
  pay(tradeNo: string, opts?: { amountFen?: number }): FakeTransaction;
  /** Forces a trade state (CLOSED, PAYERROR, USERPAYING, …). */
  setState(tradeNo: string, state: TradeState): FakeTransaction;
  /** A signed notification for a transaction, without sending it. */
  buildNotification(tradeNo: string, opts?: BuildNotificationOptions): { headers: Record<string, string>; body: string };
  /** POSTs the notification; returns each delivery's HTTP status ('error' when none came back). */
  sendNotification(tradeNo: string, opts: SendNotificationOptions): Promise<(number | 'error')[]>;
  transactions: Map<string, FakeTransaction>;
  refunds: Map<string, FakeRefund>;
  requests: FakeRequest[];
  close(): Promise<void>;
}

const SCHEMA = 'WECHATPAY2-SHA256-RSA2048';
const lines = (...parts: string[]) => parts.map((p) => `${p}\n`).join('');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function startFakeWeChatPay(options: FakeWeChatPayOptions): Promise<FakeWeChatPay> {
  const clock = options.clock ?? systemClock;
  const nowSeconds = () => Math.floor(clock.now().getTime() / 1000);
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const platformPublicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const platformSerial = randomBytes(20).toString('hex').toUpperCase();
  const merchantKey: KeyObject = createPublicKey(options.merchantPublicKeyPem);
  const apiV3Key = Buffer.from(options.apiV3Key, 'utf8');
  const books = new FakeBooks(options.appId, options.mchId, () => clock.now());
  const behaviour: FakeBehaviour = { responseSignature: 'valid', latencyMs: 0, refundStatus: 'PROCESSING' };
  const requests: FakeRequest[] = [];
  const seenNonces = new Set<string>();

  const platformSign = (message: string) => sign('sha256', Buffer.from(message), privateKey).toString('base64');

  /** Why the Authorization header is not a valid merchant signature, or null. */
  function authProblem(req: IncomingMessage, path: string, body: string): string | null {
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith(`${SCHEMA} `)) return 'missing or foreign Authorization scheme';
    const params = new Map<string, string>();
    for (const m of auth.slice(SCHEMA.length + 1).matchAll(/(\w+)="([^"]*)"/g)) params.set(m[1] ?? '', m[2] ?? '');
    const mchid = params.get('mchid');
    const nonce = params.get('nonce_str');
    const signature = params.get('signature');
    const timestamp = params.get('timestamp');
    const serial = params.get('serial_no');
    if (!mchid || !nonce || !signature || !timestamp || !serial) return 'Authorization lacks mchid, nonce_str, signature, timestamp or serial_no';
    if (mchid !== options.mchId) return `mchid ${mchid} is not ${options.mchId}`;
    if (options.merchantSerialNo && serial !== options.merchantSerialNo) return `serial_no ${serial} is not the merchant certificate`;
    if (Math.abs(nowSeconds() - Number(timestamp)) > 300) return `timestamp ${timestamp} is too far from now`;
    const message = lines(req.method ?? '', path, timestamp, nonce, body);
    if (!verify('sha256', Buffer.from(message), merchantKey, Buffer.from(signature, 'base64'))) return 'signature does not verify with the merchant public key';
    if (seenNonces.has(nonce)) return `nonce_str ${nonce} was used before`;
    seenNonces.add(nonce);
    return null;
  }

  function signedHeaders(body: string): Record<string, string> {
    if (behaviour.responseSignature === 'missing') return {};
    const timestamp = String(nowSeconds());
    const nonce = randomBytes(16).toString('hex');
    const signed = behaviour.responseSignature === 'wrong' ? `${body} ` : body;
    return {
      'Wechatpay-Timestamp': timestamp,
      'Wechatpay-Nonce': nonce,
      'Wechatpay-Signature': platformSign(lines(timestamp, nonce, signed)),
      'Wechatpay-Serial': behaviour.responseSignature === 'unknown-serial' ? 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF' : platformSerial,
    };
  }

  function route(method: string, url: URL, body: unknown): Answer {
    const isObj = typeof body === 'object' && body !== null && !Array.isArray(body);
    if (method === 'POST' && url.pathname === '/v3/pay/transactions/jsapi') {
      return isObj ? books.createJsapi(body as Record<string, unknown>) : { status: 400, json: { code: 'PARAM_ERROR', message: '请求体无效' } };
    }
    const query = /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)$/.exec(url.pathname);
    if (method === 'GET' && query) return books.query(decodeURIComponent(query[1] ?? ''), url.searchParams.get('mchid'));
    if (method === 'POST' && url.pathname === '/v3/refund/domestic/refunds') {
      return isObj ? books.refund(body as Record<string, unknown>, behaviour.refundStatus) : { status: 400, json: { code: 'PARAM_ERROR', message: '请求体无效' } };
    }
    return { status: 404, json: { code: 'NOT_FOUND', message: '无此接口' } };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = req.url ?? '/';
    const method = req.method ?? 'GET';
    const problem = authProblem(req, path, raw);
    const record: FakeRequest = { method, path, body: raw, signatureValid: problem === null, ...(problem ? { signatureProblem: problem } : {}), status: 0 };
    requests.push(record);
    if (behaviour.latencyMs > 0) await sleep(behaviour.latencyMs);
    if (res.destroyed) return;

    let answer: Answer;
    if (problem) {
      answer = { status: 401, json: { code: 'SIGN_ERROR', message: `签名错误: ${problem}` } };
    } else {
      let body: unknown;
      try {
        body = raw === '' ? undefined : (JSON.parse(raw) as unknown);
      } catch {
        body = null;
      }
      answer = route(method, new URL(path, 'http://fake.local'), body);
    }
    record.status = answer.status;
    const text = answer.json === undefined ? '' : JSON.stringify(answer.json);
    // Like WeChat, a request that fails authentication gets an unsigned answer.
    const headers = {
      'Content-Type': 'application/json; charset=utf-8',
      'Request-ID': randomUUID(),
      ...(problem ? {} : signedHeaders(text)),
    };
    res.writeHead(answer.status, headers).end(text);
  }

  function encrypt(key: Buffer, nonce: string, aad: string, plaintext: string): Buffer {
    const cipher = createCipheriv('aes-256-gcm', key, Buffer.from(nonce));
    cipher.setAAD(Buffer.from(aad));
    return Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  }

  function envelope(ciphertext: string, nonce: string, id: string, createTime: string): string {
    return JSON.stringify({
      id,
      create_time: createTime,
      resource_type: 'encrypt-resource',
      event_type: 'TRANSACTION.SUCCESS',
      summary: '支付成功',
      resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', ciphertext, associated_data: 'transaction', nonce },
    });
  }

  function buildNotification(tradeNo: string, opts: BuildNotificationOptions = {}): { headers: Record<string, string>; body: string } {
    const tx = books.transactions.get(tradeNo);
    if (!tx) throw new Error(`fake WeChat Pay: no transaction ${tradeNo}`);
    if (tx.state !== 'SUCCESS' && !opts.resourcePatch) throw new Error(`fake WeChat Pay: transaction ${tradeNo} is ${tx.state}; WeChat only notifies payments`);
    const key = opts.apiV3Key === undefined ? apiV3Key : Buffer.from(opts.apiV3Key, 'utf8');
    const resource = { ...transactionJson(tx), ...opts.resourcePatch };
    const nonce = randomBytes(6).toString('hex');
    const sealed = encrypt(key, nonce, 'transaction', JSON.stringify(resource));
    if (opts.tamper === 'ciphertext') sealed[0] = (sealed[0] ?? 0) ^ 0x01;
    const id = randomUUID();
    const createTime = rfc3339(clock.now());
    const body = envelope(sealed.toString('base64'), nonce, id, createTime);

    const timestamp = String(nowSeconds() - (opts.tamper === 'timestamp' ? 600 : 0));
    const headerNonce = randomBytes(16).toString('hex');
    let signature = platformSign(lines(timestamp, headerNonce, body));
    let sentBody = body;
    if (opts.tamper === 'signature') {
      const bytes = Buffer.from(signature, 'base64');
      bytes[10] = (bytes[10] ?? 0) ^ 0xff;
      signature = bytes.toString('base64');
    }
    if (opts.tamper === 'amount') {
      const amount = resource.amount as { total: number; payer_total?: number };
      const forged = { ...resource, amount: { ...amount, total: amount.total + 1, payer_total: (amount.payer_total ?? amount.total) + 1 } };
      sentBody = envelope(encrypt(key, nonce, 'transaction', JSON.stringify(forged)).toString('base64'), nonce, id, createTime);
    }
    return {
      headers: {
        'Content-Type': 'application/json',
        'Request-ID': randomUUID(),
        'Wechatpay-Timestamp': timestamp,
        'Wechatpay-Nonce': headerNonce,
        'Wechatpay-Signature': signature,
        'Wechatpay-Signature-Type': SCHEMA,
        'Wechatpay-Serial': opts.tamper === 'serial' ? '0000000000000000000000000000000000000000' : platformSerial,
      },
      body: sentBody,
    };
  }

  async function deliver(url: string, n: { headers: Record<string, string>; body: string }, delayMs: number): Promise<number | 'error'> {
    if (delayMs > 0) await sleep(delayMs);
    try {
      const res = await fetch(url, { method: 'POST', headers: n.headers, body: n.body, signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return 'error';
    }
  }

  async function sendNotification(tradeNo: string, opts: SendNotificationOptions): Promise<(number | 'error')[]> {
    const notification = buildNotification(tradeNo, opts);
    const times = opts.times ?? 1;
    const delayMs = opts.delayMs ?? 0;
    if (opts.concurrent) return Promise.all(Array.from({ length: times }, () => deliver(opts.url, notification, delayMs)));
    const statuses: (number | 'error')[] = [];
    for (let i = 0; i < times; i++) statuses.push(await deliver(opts.url, notification, delayMs));
    return statuses;
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify({ code: 'SYSTEM_ERROR', message: String(err) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    platformSerial,
    platformPublicKeyPem,
    behaviour,
    pay: (tradeNo, opts) => books.pay(tradeNo, opts?.amountFen),
    setState: (tradeNo, state) => books.setState(tradeNo, state),
    buildNotification,
    sendNotification,
    transactions: books.transactions,
    refunds: books.refunds,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
