import { and, eq } from 'drizzle-orm';
import { Api, GrammyError, HttpError } from 'grammy';
import type { Db } from '../../db/client.js';
import { safeEqual, sha256Hex } from '../../lib/crypto.js';
import { payments } from './schema.js';
import {
  InvalidNotificationError,
  notificationHeader as header,
  type CreatePaymentInput,
  type CreatePaymentResult,
  type PaymentProvider,
  type ProviderPaymentState,
  type RefundInput,
  type RefundResult,
} from './provider.js';

/**
 * Telegram Stars (currency XTR) through the Bot API, for digital goods sold in
 * the Telegram bot. Stars are whole units, so an order of N fen is invoiced at
 * ceil(N / fenPerStar) stars; a payment counts as the order's exact fen amount
 * only when exactly the stars invoiced for that trade were paid.
 * Protocol: https://core.telegram.org/bots/payments-stars and
 * https://core.telegram.org/bots/api#payments
 */

export const STARS_CURRENCY = 'XTR';
export const SECRET_TOKEN_HEADER = 'X-Telegram-Bot-Api-Secret-Token';

/** What we invoiced for one trade, as our payment row says. */
export interface StarsInvoice {
  amountFen: number;
  /** Stars named in createInvoiceLink (providerData.stars); absent if the row never got them. */
  stars?: number;
  createdAt: Date;
}

export interface TelegramStarsOptions {
  botToken: string;
  /** Price of one star in fen (integer). */
  fenPerStar: number;
  /** The secret_token given to setWebhook; Telegram sends it back in X-Telegram-Bot-Api-Secret-Token. */
  webhookSecret: string;
  /** Default https://api.telegram.org; tests point it at test/fakes/telegram-bot-api. */
  apiRoot?: string;
  /** Per Bot API call, default 10. */
  timeoutSeconds?: number;
  /** How many pages of 100 star transactions a query reads at most, default 50. */
  maxScanPages?: number;
  /** Reads what we invoiced for a trade. Called outside any database transaction. */
  invoices: (tradeNo: string) => Promise<StarsInvoice | null>;
}

/** The fields of a pre_checkout_query we read (grammy's PreCheckoutQuery fits). */
export interface StarsPreCheckoutQuery {
  id: string;
  from?: { id: number };
  currency: string;
  total_amount: number;
  invoice_payload: string;
}

/** A message that carries a successful_payment (grammy's Message fits). */
export interface StarsPaymentMessage {
  date?: number;
  from?: { id: number };
  successful_payment?: {
    currency: string;
    total_amount: number;
    invoice_payload: string;
    telegram_payment_charge_id: string;
    provider_payment_charge_id?: string;
  };
}

/** The parts of a Telegram Update the payments module acts on. */
export interface StarsUpdate {
  update_id?: number;
  pre_checkout_query?: StarsPreCheckoutQuery;
  message?: StarsPaymentMessage;
}

export interface TelegramStarsProvider extends PaymentProvider {
  readonly name: 'stars';
  /** Whole stars charged for an amount of fen. */
  starsFor(amountFen: number): number;
  /** The stars a payment must total: those invoiced, or recomputed when the row never recorded them. */
  invoicedStars(invoice: { amountFen: number; stars?: unknown }): number;
  /** Checks the webhook's secret token and reads the Update; throws InvalidNotificationError. */
  readUpdate(headers: Record<string, string | string[] | undefined>, rawBody: string): StarsUpdate;
  /** The provider's word about a verified message with successful_payment; throws InvalidNotificationError. */
  paymentState(message: StarsPaymentMessage): Promise<ProviderPaymentState>;
  answerPreCheckout(queryId: string, answer: { ok: true } | { ok: false; errorMessage: string }): Promise<void>;
}

/** An answer from the Bot API that is not a success, or no usable answer at all. */
export class TelegramStarsError extends Error {
  override readonly name = 'TelegramStarsError';
  constructor(
    message: string,
    /** Telegram's error_code, or undefined when no answer came. */
    readonly errorCode?: number,
    readonly description?: string,
  ) {
    super(message);
  }
}

const DEFAULT_API_ROOT = 'https://api.telegram.org';
const PAGE = 100;

export function isTelegramStarsProvider(p: PaymentProvider | undefined): p is TelegramStarsProvider {
  return p?.name === 'stars' && 'answerPreCheckout' in p;
}

/** What we invoiced per trade, read from our own payments table. */
export function starsInvoicesFrom(db: Db): TelegramStarsOptions['invoices'] {
  return async (tradeNo) => {
    const [row] = await db
      .select({ amountFen: payments.amountFen, providerData: payments.providerData, createdAt: payments.createdAt })
      .from(payments)
      .where(and(eq(payments.tradeNo, tradeNo), eq(payments.provider, 'stars')));
    if (!row) return null;
    const stars = row.providerData?.stars;
    return { amountFen: row.amountFen, stars: typeof stars === 'number' ? stars : undefined, createdAt: row.createdAt };
  };
}

export function createTelegramStarsProvider(options: TelegramStarsOptions): TelegramStarsProvider {
  const { fenPerStar, webhookSecret, invoices } = options;
  if (!/^\d+:[A-Za-z0-9_-]+$/.test(options.botToken)) throw new Error('Telegram bot token must look like 123456:ABC-def');
  if (!Number.isSafeInteger(fenPerStar) || fenPerStar < 1) throw new Error(`Telegram Stars fenPerStar must be a positive integer (got ${fenPerStar})`);
  if (!/^[A-Za-z0-9_-]{1,256}$/.test(webhookSecret)) throw new Error('Telegram webhook secret must be 1-256 of [A-Za-z0-9_-]');
  const maxScanPages = options.maxScanPages ?? 50;
  const api = new Api(options.botToken, { apiRoot: (options.apiRoot ?? DEFAULT_API_ROOT).replace(/\/+$/, ''), timeoutSeconds: options.timeoutSeconds ?? 10 });

  /** Runs a Bot API call; errors never carry the token (grammy's messages name only the method). */
  async function call<T>(method: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof GrammyError) throw new TelegramStarsError(`Telegram ${method}: ${err.error_code} ${err.description}`, err.error_code, err.description);
      if (err instanceof HttpError) throw new TelegramStarsError(`Telegram ${method}: no answer (${err.message})`);
      throw err;
    }
  }

  function starsFor(amountFen: number): number {
    assertFen(amountFen, 'amountFen');
    // Integer ceiling: never charge less than the order's price.
    return Math.floor((amountFen + fenPerStar - 1) / fenPerStar);
  }

  function invoicedStars(invoice: { amountFen: number; stars?: unknown }): number {
    const { stars } = invoice;
    return typeof stars === 'number' && Number.isSafeInteger(stars) && stars > 0 ? stars : starsFor(invoice.amountFen);
  }

  /**
   * The order's fen when exactly the invoiced stars were paid in XTR; otherwise
   * no amount at all, so that settle() refuses it as a mismatch (a converted
   * figure could equal the order's amount by chance after a price change).
   */
  async function amountFor(tradeNo: string, currency: string, stars: number): Promise<number | undefined> {
    if (currency !== STARS_CURRENCY || !Number.isSafeInteger(stars) || stars <= 0) return undefined;
    const invoice = await invoices(tradeNo);
    if (!invoice) return undefined;
    return stars === invoicedStars(invoice) ? invoice.amountFen : undefined;
  }

  function invalid(message: string): InvalidNotificationError {
    return new InvalidNotificationError(`Telegram update: ${message}`);
  }

  function readUpdate(headers: Record<string, string | string[] | undefined>, rawBody: string): StarsUpdate {
    const token = header(headers, SECRET_TOKEN_HEADER);
    if (token === undefined) throw invalid(`${SECRET_TOKEN_HEADER} missing or repeated`);
    // Hashed first so that not even the secret's length leaks through timing.
    if (!safeEqual(sha256Hex(token), sha256Hex(webhookSecret))) throw invalid(`${SECRET_TOKEN_HEADER} does not match`);
    let body: unknown;
    try {
      body = JSON.parse(rawBody) as unknown;
    } catch {
      throw invalid('body is not JSON');
    }
    if (!isRecord(body)) throw invalid('body is not a JSON object');
    return body as StarsUpdate;
  }

  async function paymentState(message: StarsPaymentMessage): Promise<ProviderPaymentState> {
    const sp = message.successful_payment;
    if (!isRecord(sp)) throw invalid('no successful_payment');
    const { currency, total_amount: total, invoice_payload: tradeNo, telegram_payment_charge_id: chargeId } = sp;
    if (typeof tradeNo !== 'string' || tradeNo === '') throw invalid('invoice_payload missing');
    if (typeof chargeId !== 'string' || chargeId === '') throw invalid('telegram_payment_charge_id missing');
    if (typeof currency !== 'string' || typeof total !== 'number') throw invalid('currency or total_amount missing');
    const payer = message.from?.id;
    return {
      tradeNo,
      status: 'succeeded',
      providerTxnId: chargeId,
      amountFen: await amountFor(tradeNo, currency, total),
      paidAt: typeof message.date === 'number' ? new Date(message.date * 1000) : undefined,
      paid: { amount: total, currency },
      // The refund (refundStarPayment) must name the payer.
      providerData: typeof payer === 'number' && Number.isSafeInteger(payer) ? { payer_telegram_id: String(payer) } : undefined,
    };
  }

  return {
    name: 'stars',
    starsFor,
    invoicedStars,

    async create(input: CreatePaymentInput): Promise<CreatePaymentResult> {
      const stars = starsFor(input.amountFen);
      if (!input.tradeNo || Buffer.byteLength(input.tradeNo) > 128) throw new Error('Telegram invoice payload (tradeNo) must be 1-128 bytes');
      const description = truncate(input.description, 255) || input.tradeNo;
      // Invoice links do not expire: the deadline is enforced when Telegram asks before charging (pre-checkout).
      const link = await call('createInvoiceLink', () => api.createInvoiceLink(truncate(input.description, 32) || 'Order', description, input.tradeNo, '', STARS_CURRENCY, [{ label: 'Total', amount: stars }]));
      return { clientParams: { invoice_link: link, stars }, providerData: { stars, fen_per_star: fenPerStar } };
    },

    readUpdate,
    paymentState,

    async parseNotification(headers, rawBody): Promise<ProviderPaymentState> {
      const update = readUpdate(headers, rawBody);
      if (!isRecord(update.message)) throw invalid('no message with successful_payment');
      return paymentState(update.message);
    },

    async answerPreCheckout(queryId, answer): Promise<void> {
      await call('answerPreCheckoutQuery', () => (answer.ok ? api.answerPreCheckoutQuery(queryId, true) : api.answerPreCheckoutQuery(queryId, false, { error_message: answer.errorMessage })));
    },

    /**
     * No per-invoice query exists: read the bot's star transactions page by
     * page for a user's payment carrying our payload. Not found is 'pending',
     * never 'closed': an invoice link stays payable after our deadline.
     */
    async query(tradeNo: string): Promise<ProviderPaymentState> {
      const invoice = await invoices(tradeNo);
      // Transactions are dated in whole seconds; a minute of slack covers clock skew.
      const notBefore = invoice ? Math.floor(invoice.createdAt.getTime() / 1000) - 60 : 0;
      const found: ProviderPaymentState[] = [];
      // A refund is an outgoing transaction bearing the charge's id: a refunded charge pays nothing.
      const refunded = new Set<string>();
      for (let page = 0; page < maxScanPages; page++) {
        const { transactions } = await call('getStarTransactions', () => api.getStarTransactions({ offset: page * PAGE, limit: PAGE }));
        for (const t of transactions) {
          if (t.receiver?.type === 'user') refunded.add(t.id);
          const source = t.source;
          if (source?.type !== 'user' || source.invoice_payload !== tradeNo) continue;
          if (source.transaction_type !== undefined && source.transaction_type !== 'invoice_payment') continue;
          found.push({
            tradeNo,
            status: 'succeeded',
            providerTxnId: t.id,
            // Fractions of a star are never what we invoiced.
            amountFen: t.nanostar_amount ? undefined : await amountFor(tradeNo, STARS_CURRENCY, t.amount),
            paidAt: new Date(t.date * 1000),
            paid: { amount: t.amount, currency: STARS_CURRENCY },
            providerData: { payer_telegram_id: String(source.user.id) },
          });
        }
        if (transactions.length < PAGE) break;
        // Documented as chronological, but if newest come first, a page wholly older than our invoice ends the search.
        const first = transactions[0]!.date;
        const last = transactions[transactions.length - 1]!.date;
        if (first > last && last < notBefore) break;
      }
      const live = found.filter((state) => !refunded.has(state.providerTxnId!));
      // The right amount wins over a wrong one (a link can be paid twice). Not found after the pages read is
      // safe: the order is cancelled, and a payment that still arrives re-claims stock (applyPayment).
      return live.find((state) => state.amountFen !== undefined) ?? live[0] ?? { tradeNo, status: 'pending' };
    },

    /** Stars refunds are whole: refundStarPayment returns every star of the charge to the payer. */
    async refund(input: RefundInput): Promise<RefundResult> {
      assertFen(input.amountFen, 'refund amountFen');
      if (input.amountFen !== input.totalFen) throw new Error(`Telegram Stars refund ${input.refundId}: only whole payments can be refunded (${input.amountFen} of ${input.totalFen} fen asked)`);
      const chargeId = input.providerTxnId;
      if (!chargeId) throw new Error(`Telegram Stars refund ${input.refundId}: the payment's telegram_payment_charge_id is unknown`);
      const userId = Number(input.payer?.telegramUserId);
      if (!Number.isSafeInteger(userId) || userId <= 0) throw new Error(`Telegram Stars refund ${input.refundId}: the payer's Telegram user id is unknown`);
      try {
        await call('refundStarPayment', () => api.refundStarPayment(userId, chargeId));
      } catch (err) {
        // A retry after a lost answer: the stars are already back with the payer.
        if (err instanceof TelegramStarsError && /CHARGE_ALREADY_REFUNDED/.test(err.description ?? '')) return { status: 'succeeded', providerRefundId: chargeId };
        throw err;
      }
      return { status: 'succeeded', providerRefundId: chargeId };
    },

    acknowledge(handled: boolean) {
      // Telegram retries an update until it gets a 2xx; the body must not look like a method call.
      return handled ? { statusCode: 200 } : { statusCode: 500, body: { code: 'FAIL', message: 'update not handled, please retry' } };
    },
  };
}

function assertFen(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`Telegram Stars ${what} must be a positive integer of fen (got ${value})`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** At most max characters (code points, so no emoji is cut in half). */
function truncate(text: string, max: number): string {
  return Array.from(text).slice(0, max).join('');
}

