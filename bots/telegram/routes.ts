import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Update } from 'grammy/types';
import { AppError } from '../../src/lib/errors.js';
import { safeEqual, sha256Hex } from '../../src/lib/crypto.js';
import { errorResponses } from '../../src/http/schemas.js';
import type { TelegramChannel } from './index.js';

export const WEBHOOK_PATH = '/bots/telegram/webhook';
const SECRET_HEADER = 'x-telegram-bot-api-secret-token';

/**
 * The bot's webhook (TELEGRAM_BOT_MODE=webhook): Telegram POSTs every update
 * here with the secret token given to setWebhook. Each update is handled once
 * across instances (update_id claimed in the shared key-value store); a failure
 * releases the claim and answers 500 so that Telegram delivers it again.
 */
export async function telegramBotRoutes(fastify: FastifyInstance, opts: { channel: TelegramChannel; webhookSecret: string }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { channel, webhookSecret } = opts;
  // Config validation requires it in webhook mode; an empty one would let anybody post updates.
  if (!/^[A-Za-z0-9_-]{16,256}$/.test(webhookSecret)) throw new Error('the Telegram webhook needs TELEGRAM_WEBHOOK_SECRET');

  function checkSecret(request: FastifyRequest): void {
    const given = request.headers[SECRET_HEADER];
    // Hashed first so that not even the secret's length leaks through timing.
    if (typeof given !== 'string' || !safeEqual(sha256Hex(given), sha256Hex(webhookSecret))) throw new AppError('UNAUTHENTICATED', 'X-Telegram-Bot-Api-Secret-Token missing or wrong');
  }

  app.post(
    WEBHOOK_PATH,
    {
      // Public: the secret token is the authentication, checked before the body is even validated.
      config: { public: true },
      preValidation: async (request) => checkSecret(request),
      schema: {
        tags: ['bots'],
        summary: 'Telegram bot updates (webhook mode): messages, button presses, and Stars payment updates, which go to the payments module',
        headers: Type.Object({ [SECRET_HEADER]: Type.String({ description: 'the secret_token given to setWebhook (TELEGRAM_WEBHOOK_SECRET)' }) }),
        // An Update has many optional fields, all Telegram's; only update_id is ours to rely on.
        body: Type.Object({ update_id: Type.Integer({ minimum: 0 }) }, { additionalProperties: true }),
        response: { 200: Type.Null({ description: 'handled (or a duplicate)' }), 401: errorResponses[401], 500: Type.Object({ code: Type.String(), message: Type.String() }) },
      },
    },
    async (request, reply) => {
      const update = request.body as Update;
      const outcome = await channel.handleWebhookUpdate(update, { headers: request.headers, rawBody: request.rawBody ?? JSON.stringify(update) });
      if (outcome.statusCode >= 300) return reply.code(500).send({ code: 'FAIL', message: 'update not handled, please retry' });
      return reply.code(200).send(null);
    },
  );
}
