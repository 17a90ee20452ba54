import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page } from '../../lib/pagination.js';
import { Strict, errorResponses } from '../../http/schemas.js';
import type { AlertService } from './service.js';

const Alert = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  subject_type: Type.String(),
  subject_id: Type.String(),
  severity: Type.String(),
  message: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
  opened_at: Type.String(),
  updated_at: Type.String(),
  cleared_at: Type.Union([Type.String(), Type.Null()]),
});

export async function alertRoutes(fastify: FastifyInstance, opts: { alerts: AlertService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/admin/alerts',
    {
      config: { permission: 'system:read' },
      schema: {
        tags: ['admin: alerts'],
        summary: 'Operational alerts, newest first (open ones only with open=true)',
        querystring: Strict({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          cursor: Type.Optional(Type.String({ pattern: '^alr_[0-9A-HJKMNP-TV-Z]{26}$' })),
          open: Type.Optional(Type.Boolean()),
          kind: Type.Optional(Type.String({ maxLength: 32 })),
        }),
        response: { 200: Page(Alert), ...errorResponses },
      },
    },
    async (request) => opts.alerts.list(request.query),
  );
}
