import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Strict } from '../../http/schemas.js';
import type { PaymentService } from './service.js';

export async function paymentRoutes(fastify: FastifyInstance, opts: { payments: PaymentService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/payments/notify/:provider',
    {
      // Public: the provider's signature is the authentication, checked by its adapter.
      config: { public: true },
      schema: { tags: ['payments'], summary: 'Payment notifications from providers (WeChat Pay v3, sandbox; stars: Telegram webhook updates with pre_checkout_query or successful_payment)', params: Strict({ provider: Type.Union([Type.Literal('wechat'), Type.Literal('stars'), Type.Literal('sandbox')]) }) },
    },
    async (request, reply) => {
      const { provider } = request.params;
      // Telegram posts whole updates: pre-checkout questions as well as payments.
      const result = provider === 'stars' ? await opts.payments.handleTelegramUpdate(request.headers, request.rawBody ?? '') : await opts.payments.handleNotification(provider, request.headers, request.rawBody ?? '');
      return reply.code(result.ack.statusCode).send(result.ack.body ?? null);
    },
  );
}
