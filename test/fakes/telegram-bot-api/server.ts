import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../../../src/lib/clock.js';

/**
 * A local Telegram Bot API (node:http, 127.0.0.1) for Stars payments:
 * POST /bot<token>/<method> with JSON (or form) parameters, answered
 * {ok:true,result} or {ok:false,error_code,description} like Telegram.
 * It keeps the bot's star transactions, and plays the user's side: a
 * pre_checkout_query and a successful_payment as webhook updates, delivered
 * with the secret token header. Written from the Bot API docs, independently
 * of src/modules/payments.
 */

export interface FakeCall {
  method: string;
  params: Record<string, unknown>;
  /** HTTP status of our answer. */
  status: number;
}

export interface FakeInvoice {
  link: string;
  title: string;
  description: string;
  payload: string;
  currency: string;
  stars: number;
}

export interface FakeStarTransaction {
  id: string;
  amount: number;
  date: number;
  source?: { type: 'user'; transaction_type: 'invoice_payment'; user: FakeUser; invoice_payload: string } | { type: 'fragment' };
  receiver?: { type: 'user'; transaction_type: 'invoice_payment'; user: FakeUser };
}

export interface FakeUser {
  id: number;
  is_bot: false;
  first_name: string;
}

export interface TelegramUpdate {
  update_id: number;
  pre_checkout_query?: { id: string; from: FakeUser; currency: string; total_amount: number; invoice_payload: string };
  message?: Record<string, unknown>;
}

export interface FakeBotApi {
  url: string;
  token: string;
  calls: FakeCall[];
  invoices: Map<string, FakeInvoice>;
  /** The bot's star transactions, oldest first (Telegram documents chronological order). */
  transactions: FakeStarTransaction[];
  /** Answers to pre-checkout queries by query id. */
  preCheckoutAnswers: Map<string, { ok: boolean; error_message?: string }>;
  /** Dials: getStarTransactions newest first instead of oldest first. */
  behaviour: { newestFirst: boolean };
  /** The update Telegram sends when a user confirms the invoice: payload = our trade number; stars default to the invoice's. */
  preCheckoutUpdate(payload: string, opts?: { userId?: number; totalAmount?: number; currency?: string }): TelegramUpdate;
  /**
   * The user is charged: a star transaction is recorded and the update with
   * message.successful_payment is returned (not sent). totalAmount overrides
   * the invoice's stars (what Telegram reports, and the transaction amount).
   */
  pay(payload: string, opts?: { userId?: number; totalAmount?: number; currency?: string }): TelegramUpdate;
  /** A star transaction that is not ours (another payload, a Fragment refund), to make the list longer. */
  addUnrelatedTransaction(kind?: 'other-payload' | 'fragment'): FakeStarTransaction;
  /** The webhook POST Telegram makes for an update: JSON body and the secret token header (secret null: none). */
  webhookRequest(update: TelegramUpdate, opts?: { secret?: string | null }): { headers: Record<string, string>; body: string };
  callsOf(method: string): FakeCall[];
  close(): Promise<void>;
}

class ApiFailure extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
  ) {
    super(description);
  }
}

const bad = (description: string) => new ApiFailure(400, `Bad Request: ${description}`);

export async function startFakeBotApi(options: { token: string; clock?: Clock; webhookSecret?: string }): Promise<FakeBotApi> {
  const clock = options.clock ?? systemClock;
  const nowSeconds = () => Math.floor(clock.now().getTime() / 1000);
  const calls: FakeCall[] = [];
  const invoices = new Map<string, FakeInvoice>();
  const transactions: FakeStarTransaction[] = [];
  const preCheckoutAnswers = new Map<string, { ok: boolean; error_message?: string }>();
  const issuedQueries = new Set<string>();
  const refunded = new Set<string>();
  const behaviour = { newestFirst: false };
  let updateId = 100_000;
  let messageId = 1;

  const user = (id: number): FakeUser => ({ id, is_bot: false, first_name: `user${id}` });
  const chargeId = () => `stxFake${randomBytes(12).toString('base64url')}`;

  const methods: Record<string, (params: Record<string, unknown>) => unknown> = {
    getMe: () => ({ id: Number(options.token.split(':')[0]), is_bot: true, first_name: 'kaquan test bot', username: 'kaquan_test_bot' }),

    createInvoiceLink(params) {
      const { title, description, payload, currency, prices } = params;
      if (typeof title !== 'string' || title.length < 1 || Array.from(title).length > 32) throw bad('invoice title must be 1-32 characters');
      if (typeof description !== 'string' || description.length < 1 || Array.from(description).length > 255) throw bad('invoice description must be 1-255 characters');
      if (typeof payload !== 'string' || payload.length < 1 || Buffer.byteLength(payload) > 128) throw bad('invoice payload must be 1-128 bytes');
      if (currency !== 'XTR') throw bad('this fake only sells in Telegram Stars (XTR)');
      // Stars invoices take an empty provider token (or none).
      if (params.provider_token !== undefined && params.provider_token !== '') throw bad('provider_token must be empty for payments in Telegram Stars');
      if (!Array.isArray(prices) || prices.length !== 1) throw bad('payments in Telegram Stars must have exactly one price');
      const amount = (prices[0] as { amount?: unknown }).amount;
      if (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 1 || amount > 10_000) throw bad('CURRENCY_TOTAL_AMOUNT_INVALID');
      const link = `https://t.me/$${randomBytes(9).toString('base64url')}`;
      invoices.set(payload, { link, title, description, payload, currency, stars: amount });
      return link;
    },

    answerPreCheckoutQuery(params) {
      const { pre_checkout_query_id: id, ok, error_message: message } = params;
      if (typeof id !== 'string' || !issuedQueries.has(id)) throw bad('query is too old and response timeout expired or query ID is invalid');
      if (typeof ok !== 'boolean') throw bad('ok must be a boolean');
      if (!ok && (typeof message !== 'string' || message === '')) throw bad('error_message is required when ok is false');
      if (preCheckoutAnswers.has(id)) throw bad('QUERY_ID_INVALID');
      preCheckoutAnswers.set(id, ok ? { ok } : { ok, error_message: message as string });
      return true;
    },

    sendMessage(params) {
      const { chat_id: chatId, text } = params;
      if ((typeof chatId !== 'number' && typeof chatId !== 'string') || chatId === '') throw bad('chat_id is empty');
      if (typeof text !== 'string' || text.length < 1 || text.length > 4096) throw bad('message text is empty or too long');
      return { message_id: messageId++, date: nowSeconds(), chat: { id: chatId, type: 'supergroup' }, text };
    },

    getStarTransactions(params) {
      const offset = params.offset === undefined ? 0 : Number(params.offset);
      const limit = params.limit === undefined ? 100 : Number(params.limit);
      if (!Number.isInteger(offset) || offset < 0) throw bad('offset must be a non-negative integer');
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw bad('limit must be between 1 and 100');
      const ordered = behaviour.newestFirst ? [...transactions].reverse() : transactions;
      return { transactions: ordered.slice(offset, offset + limit) };
    },

    refundStarPayment(params) {
      const userId = Number(params.user_id);
      const charge = params.telegram_payment_charge_id;
      const tx = transactions.find((t) => t.id === charge && t.source?.type === 'user');
      if (!tx || tx.source?.type !== 'user' || tx.source.user.id !== userId) throw bad('CHARGE_NOT_FOUND');
      if (refunded.has(tx.id)) throw bad('CHARGE_ALREADY_REFUNDED');
      refunded.add(tx.id);
      // A refund is an outgoing transaction with the original's id.
      transactions.push({ id: tx.id, amount: tx.amount, date: nowSeconds(), receiver: { type: 'user', transaction_type: 'invoice_payment', user: tx.source.user } });
      return true;
    },
  };

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  function parseParams(req: IncomingMessage, text: string): Record<string, unknown> {
    if (text === '') return {};
    const type = req.headers['content-type'] ?? '';
    if (type.startsWith('application/json')) return JSON.parse(text) as Record<string, unknown>;
    // Form posts carry JSON-serialized objects in their values, as Telegram accepts.
    const out: Record<string, unknown> = {};
    for (const [k, v] of new URLSearchParams(text)) {
      try {
        out[k] = JSON.parse(v);
      } catch {
        out[k] = v;
      }
    }
    return out;
  }

  function send(res: ServerResponse, status: number, body: unknown) {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  const server = createServer((req, res) => {
    void (async () => {
      const text = await readBody(req);
      const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec((req.url ?? '').split('?')[0] ?? '');
      let method = match?.[2] ?? '?';
      let params: Record<string, unknown> = {};
      let status = 200;
      let body: unknown;
      try {
        if (!match) throw new ApiFailure(404, 'Not Found');
        if (match[1] !== options.token) throw new ApiFailure(401, 'Unauthorized');
        method = match[2]!;
        try {
          params = parseParams(req, text);
        } catch {
          throw bad("can't parse JSON request body");
        }
        const handler = methods[method];
        if (!handler) throw new ApiFailure(404, 'Not Found: method not found');
        body = { ok: true, result: handler(params) };
      } catch (err) {
        if (!(err instanceof ApiFailure)) throw err;
        status = err.code;
        body = { ok: false, error_code: err.code, description: err.description };
      }
      calls.push({ method, params, status });
      send(res, status, body);
    })().catch((err: unknown) => send(res, 500, { ok: false, error_code: 500, description: `fake failure: ${String(err)}` }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function invoiceOf(payload: string): FakeInvoice {
    const invoice = invoices.get(payload);
    if (!invoice) throw new Error(`fake Bot API: no invoice with payload ${payload}`);
    return invoice;
  }

  return {
    url,
    token: options.token,
    calls,
    invoices,
    transactions,
    preCheckoutAnswers,
    behaviour,

    preCheckoutUpdate(payload, opts = {}) {
      const id = String(BigInt(`0x${randomBytes(7).toString('hex')}`));
      issuedQueries.add(id);
      const totalAmount = opts.totalAmount ?? invoices.get(payload)?.stars ?? 1;
      return { update_id: ++updateId, pre_checkout_query: { id, from: user(opts.userId ?? 7_000_001), currency: opts.currency ?? 'XTR', total_amount: totalAmount, invoice_payload: payload } };
    },

    pay(payload, opts = {}) {
      const stars = opts.totalAmount ?? invoiceOf(payload).stars;
      const payer = user(opts.userId ?? 7_000_001);
      const id = chargeId();
      const date = nowSeconds();
      transactions.push({ id, amount: stars, date, source: { type: 'user', transaction_type: 'invoice_payment', user: payer, invoice_payload: payload } });
      return {
        update_id: ++updateId,
        message: {
          message_id: messageId++,
          from: payer,
          chat: { id: payer.id, type: 'private', first_name: payer.first_name },
          date,
          successful_payment: { currency: opts.currency ?? 'XTR', total_amount: stars, invoice_payload: payload, telegram_payment_charge_id: id, provider_payment_charge_id: '' },
        },
      };
    },

    addUnrelatedTransaction(kind = 'other-payload') {
      const tx: FakeStarTransaction =
        kind === 'fragment'
          ? { id: chargeId(), amount: 50, date: nowSeconds(), source: { type: 'fragment' } }
          : { id: chargeId(), amount: 10, date: nowSeconds(), source: { type: 'user', transaction_type: 'invoice_payment', user: user(7_999_999), invoice_payload: `OTHER${randomBytes(6).toString('hex')}` } };
      transactions.push(tx);
      return tx;
    },

    webhookRequest(update, opts = {}) {
      const secret = opts.secret === undefined ? options.webhookSecret : opts.secret;
      return { headers: { 'content-type': 'application/json', ...(secret ? { 'x-telegram-bot-api-secret-token': secret } : {}) }, body: JSON.stringify(update) };
    },

    callsOf: (method) => calls.filter((c) => c.method === method),

    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
