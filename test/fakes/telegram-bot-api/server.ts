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
 * For the chat bot (bots/telegram) it also keeps the messages the bot sends
 * (sendMessage, sendPhoto, editMessageText, answerCallbackQuery, setWebhook)
 * per chat, checks their limits (4096 characters, 64-byte callback_data,
 * entities inside the text), and plays users writing and pressing buttons.
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
  callback_query?: { id: string; from: FakeUser; chat_instance: string; data: string; message: FakeMessage };
}

export interface FakeChat {
  id: number;
  type: 'private' | 'group' | 'supergroup';
  title?: string;
  first_name?: string;
}

/** A message the bot sent (and its later edits), as Telegram keeps it. */
export interface FakeMessage {
  message_id: number;
  date: number;
  chat: FakeChat;
  text?: string;
  caption?: string;
  entities?: { type: string; offset: number; length: number }[];
  photo?: { file_id: string; width: number; height: number }[];
  reply_markup?: { inline_keyboard: ({ text: string; callback_data?: string; url?: string })[][] };
  edit_date?: number;
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
  /** Dials: getStarTransactions newest first instead of oldest first; floodWait: the next `times` calls of `method` answer 429 with retry_after. */
  behaviour: { newestFirst: boolean; floodWait?: { method: string; retryAfter: number; times: number }; unreachable: Set<number> };
  /** Updates waiting for getUpdates (long polling), and queues one. */
  pending: TelegramUpdate[];
  queueUpdate(update: TelegramUpdate): void;
  /** What the bot sent, per chat id, oldest first (edits applied in place). */
  chats: Map<string, FakeMessage[]>;
  /** Answers to callback queries by query id. */
  callbackAnswers: Map<string, { text?: string; show_alert?: boolean }>;
  /** The last setWebhook. */
  webhook: { url: string; secret_token?: string; allowed_updates?: string[] } | null;
  /** A user writes in a chat (default: the private chat with the bot); commands get their bot_command entity. */
  userMessage(text: string, opts?: { userId?: number; chat?: FakeChat; languageCode?: string; firstName?: string }): TelegramUpdate;
  /** A user presses an inline button of a message the bot sent. */
  pressButton(message: FakeMessage, data: string, opts?: { userId?: number; languageCode?: string; firstName?: string }): TelegramUpdate;
  messagesIn(chatId: number | string): FakeMessage[];
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
    readonly parameters?: { retry_after: number },
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
  const behaviour: FakeBotApi['behaviour'] = { newestFirst: false, unreachable: new Set() };
  const pending: TelegramUpdate[] = [];
  const chats = new Map<string, FakeMessage[]>();
  const callbackAnswers = new Map<string, { text?: string; show_alert?: boolean }>();
  const issuedCallbacks = new Set<string>();
  let webhook: FakeBotApi['webhook'] = null;
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
      if (behaviour.unreachable.has(Number(chatId))) throw new ApiFailure(403, "Forbidden: bot can't initiate conversation with a user");
      if (typeof text !== 'string' || text.length < 1 || text.length > 4096) throw bad('message text is empty or too long');
      return keep(chatId, { text, ...checkedEntities(text, params.entities), ...checkedMarkup(params.reply_markup) });
    },

    sendPhoto(params) {
      const { chat_id: chatId, photo, caption } = params;
      if ((typeof chatId !== 'number' && typeof chatId !== 'string') || chatId === '') throw bad('chat_id is empty');
      if (photo === undefined || photo === '') throw bad('there is no photo in the request');
      if (caption !== undefined && (typeof caption !== 'string' || caption.length > 1024)) throw bad('message caption is too long');
      const fileId = `photo${randomBytes(6).toString('hex')}`;
      return keep(chatId, { photo: [{ file_id: fileId, width: 512, height: 512 }], ...(caption ? { caption } : {}), ...checkedMarkup(params.reply_markup) });
    },

    editMessageText(params) {
      const { chat_id: chatId, message_id: id, text } = params;
      if (typeof text !== 'string' || text.length < 1 || text.length > 4096) throw bad('message text is empty or too long');
      const msg = (chats.get(String(chatId)) ?? []).find((m) => m.message_id === Number(id));
      if (!msg || msg.text === undefined) throw bad('message to edit not found');
      const next = { text, ...checkedEntities(text, params.entities), ...checkedMarkup(params.reply_markup) };
      if (JSON.stringify([msg.text, msg.entities, msg.reply_markup]) === JSON.stringify([next.text, next.entities, next.reply_markup])) {
        throw bad('message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message');
      }
      msg.text = next.text;
      msg.entities = next.entities;
      msg.reply_markup = next.reply_markup;
      msg.edit_date = nowSeconds();
      return { ...msg };
    },

    answerCallbackQuery(params) {
      const id = params.callback_query_id;
      if (typeof id !== 'string' || !issuedCallbacks.has(id) || callbackAnswers.has(id)) throw bad('query is too old and response timeout expired or query ID is invalid');
      callbackAnswers.set(id, { ...(typeof params.text === 'string' ? { text: params.text } : {}), ...(params.show_alert === true ? { show_alert: true } : {}) });
      return true;
    },

    setWebhook(params) {
      if (typeof params.url !== 'string') throw bad('url is empty');
      if (params.secret_token !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(String(params.secret_token))) throw bad('secret token contains unallowed characters');
      webhook = { url: params.url, ...(typeof params.secret_token === 'string' ? { secret_token: params.secret_token } : {}), ...(Array.isArray(params.allowed_updates) ? { allowed_updates: params.allowed_updates as string[] } : {}) };
      return true;
    },

    deleteWebhook() {
      webhook = null;
      return true;
    },

    // Long polling with a short wait: what is queued from offset on (confirming older ones), else nothing after 100 ms.
    async getUpdates(params) {
      if (webhook) throw new ApiFailure(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
      const offset = params.offset === undefined ? 0 : Number(params.offset);
      while (pending.length && pending[0]!.update_id < offset) pending.shift();
      if (!pending.length) await new Promise((resolve) => setTimeout(resolve, 100));
      return pending.slice(0, Number(params.limit ?? 100));
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

  function chatOf(chatId: number | string): FakeChat {
    const id = Number(chatId);
    if (!Number.isSafeInteger(id)) throw bad('chat not found');
    // Positive ids are users (private chats); groups and supergroups are negative.
    return id > 0 ? { id, type: 'private', first_name: `user${id}` } : { id, type: 'supergroup', title: `group ${id}` };
  }

  function keep(chatId: number | string, content: Omit<FakeMessage, 'message_id' | 'date' | 'chat'>): FakeMessage {
    const msg: FakeMessage = { message_id: messageId++, date: nowSeconds(), chat: chatOf(chatId), ...content };
    const list = chats.get(String(msg.chat.id)) ?? [];
    list.push(msg);
    chats.set(String(msg.chat.id), list);
    return { ...msg };
  }

  function checkedEntities(text: string, raw: unknown): Pick<FakeMessage, 'entities'> {
    if (raw === undefined) return {};
    if (!Array.isArray(raw)) throw bad("can't parse entities");
    const entities = raw as { type: string; offset: number; length: number }[];
    // Offsets and lengths count UTF-16 code units, as JavaScript strings do.
    for (const e of entities) if (!Number.isInteger(e.offset) || !Number.isInteger(e.length) || e.offset < 0 || e.length < 1 || e.offset + e.length > text.length) throw bad("can't parse entities: entity beyond the end of the text");
    return entities.length ? { entities: entities.map((e) => ({ type: e.type, offset: e.offset, length: e.length })) } : {};
  }

  function checkedMarkup(raw: unknown): Pick<FakeMessage, 'reply_markup'> {
    if (raw === undefined) return {};
    const rows = (raw as { inline_keyboard?: unknown }).inline_keyboard;
    if (!Array.isArray(rows)) throw bad("can't parse reply keyboard markup JSON object");
    for (const row of rows as { text?: unknown; callback_data?: unknown; url?: unknown }[][]) {
      if (!Array.isArray(row)) throw bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays');
      for (const b of row) {
        if (typeof b.text !== 'string' || b.text === '') throw bad('text buttons are unallowed in the inline keyboard');
        if (b.callback_data !== undefined && (typeof b.callback_data !== 'string' || Buffer.byteLength(b.callback_data) < 1 || Buffer.byteLength(b.callback_data) > 64)) throw bad('BUTTON_DATA_INVALID');
        if (b.url !== undefined && (typeof b.url !== 'string' || !/^(https?|tg):\/\//.test(b.url))) throw bad('BUTTON_URL_INVALID');
        if ((b.callback_data === undefined) === (b.url === undefined)) throw bad('exactly one of callback_data and url is expected in a button');
      }
    }
    return rows.length ? { reply_markup: { inline_keyboard: rows as NonNullable<FakeMessage['reply_markup']>['inline_keyboard'] } } : {};
  }

  /** multipart/form-data as grammy sends files: JSON-serialized fields, files as { file: name, bytes }. */
  function parseMultipart(type: string, body: Buffer): Record<string, unknown> {
    const boundary = /boundary=("?)([^";]+)\1/.exec(type)?.[2];
    if (!boundary) throw bad("can't parse multipart body");
    const out: Record<string, unknown> = {};
    const text = body.toString('latin1');
    for (const part of text.split(`--${boundary}`)) {
      const headerEnd = part.indexOf('\r\n\r\n');
      if (headerEnd < 0) continue;
      const head = part.slice(0, headerEnd);
      const name = /;\s*name="([^"]+)"/i.exec(head)?.[1];
      if (!name) continue;
      const value = part.slice(headerEnd + 4).replace(/\r\n$/, '');
      // grammy writes filename=name unquoted; browsers quote it.
      const filename = /filename=(?:"([^"]*)"|([^;\r\n]*))/i.exec(head)?.slice(1).find((x) => x !== undefined);
      if (filename !== undefined) {
        out[name] = { file: filename, bytes: Buffer.byteLength(value, 'latin1') };
        continue;
      }
      const utf8 = Buffer.from(value, 'latin1').toString('utf8');
      try {
        out[name] = JSON.parse(utf8);
      } catch {
        out[name] = utf8;
      }
    }
    // An attached file is referenced as attach://<field>.
    for (const [k, v] of Object.entries(out)) if (typeof v === 'string' && v.startsWith('attach://')) out[k] = out[v.slice('attach://'.length)] ?? v;
    return out;
  }

  async function readBodyBytes(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  function parseParams(req: IncomingMessage, text: string, raw?: Buffer): Record<string, unknown> {
    if (text === '') return {};
    const type = req.headers['content-type'] ?? '';
    if (type.startsWith('multipart/form-data')) return parseMultipart(type, raw ?? Buffer.from(text));
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
      const raw = await readBodyBytes(req);
      const text = raw.toString('utf8');
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
          params = parseParams(req, text, raw);
        } catch {
          throw bad("can't parse JSON request body");
        }
        const handler = methods[method];
        if (!handler) throw new ApiFailure(404, 'Not Found: method not found');
        const flood = behaviour.floodWait;
        if (flood && flood.method === method && flood.times > 0) {
          flood.times--;
          throw new ApiFailure(429, `Too Many Requests: retry after ${flood.retryAfter}`, { retry_after: flood.retryAfter });
        }
        body = { ok: true, result: await handler(params) };
      } catch (err) {
        if (!(err instanceof ApiFailure)) throw err;
        status = err.code;
        body = { ok: false, error_code: err.code, description: err.description, ...(err.parameters ? { parameters: err.parameters } : {}) };
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
    chats,
    callbackAnswers,
    pending,
    queueUpdate: (update) => void pending.push(update),
    get webhook() {
      return webhook;
    },

    userMessage(text, opts = {}) {
      const from: FakeUser & { language_code?: string } = { ...user(opts.userId ?? 7_000_001), ...(opts.firstName ? { first_name: opts.firstName } : {}), ...(opts.languageCode ? { language_code: opts.languageCode } : {}) };
      const chat = opts.chat ?? { id: from.id, type: 'private' as const, first_name: from.first_name };
      const command = /^\/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?/.exec(text);
      return {
        update_id: ++updateId,
        message: { message_id: messageId++, from, chat, date: nowSeconds(), text, ...(command ? { entities: [{ type: 'bot_command', offset: 0, length: command[0].length }] } : {}) },
      };
    },

    pressButton(message, data, opts = {}) {
      const buttons = (message.reply_markup?.inline_keyboard ?? []).flat();
      if (!buttons.some((b) => b.callback_data === data)) throw new Error(`fake Bot API: message ${message.message_id} has no button ${data}`);
      const id = String(BigInt(`0x${randomBytes(7).toString('hex')}`));
      issuedCallbacks.add(id);
      const from: FakeUser & { language_code?: string } = { ...user(opts.userId ?? message.chat.id), ...(opts.firstName ? { first_name: opts.firstName } : {}), ...(opts.languageCode ? { language_code: opts.languageCode } : {}) };
      return { update_id: ++updateId, callback_query: { id, from, chat_instance: `ci${message.chat.id}`, data, message: structuredClone(message) } };
    },

    messagesIn: (chatId) => (chats.get(String(chatId)) ?? []).map((m) => structuredClone(m)),

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
