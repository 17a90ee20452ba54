import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page } from '../../lib/pagination.js';
import { Strict, errorResponses } from '../../http/schemas.js';
import type { AuditService } from './service.js';

const AuditRow = Type.Object({
  id: Type.String(),
  seq: Type.Integer(),
  at: Type.String(),
  actor_type: Type.String(),
  actor_id: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  target_type: Type.Union([Type.String(), Type.Null()]),
  target_id: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(Type.String(), Type.Unknown()),
});

export async function auditRoutes(fastify: FastifyInstance, opts: { audit: AuditService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['admin: audit'];
  app.get(
    '/admin/audit',
    {
      config: { permission: 'audit:read' },
      schema: {
        tags,
        summary: 'The audit trail, newest first',
        querystring: Strict({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          cursor: Type.Optional(Type.String({ pattern: '^aud_\\d{26}$' })),
          action: Type.Optional(Type.String({ maxLength: 64 })),
          actor_id: Type.Optional(Type.String({ maxLength: 64 })),
        }),
        response: { 200: Page(AuditRow), ...errorResponses },
      },
    },
    async (request) => opts.audit.list({ limit: request.query.limit, cursor: request.query.cursor, action: request.query.action, actorId: request.query.actor_id }),
  );

  app.get(
    '/admin/audit/verify',
    {
      config: { permission: 'audit:read' },
      schema: {
        tags,
        summary: 'Walk the hash chain and report the first broken link',
        response: {
          200: Type.Object({ ok: Type.Boolean(), rows: Type.Integer(), first_broken: Type.Union([Type.Object({ seq: Type.Integer(), reason: Type.String() }), Type.Null()]) }),
          ...errorResponses,
        },
      },
    },
    async () => {
      const r = await opts.audit.verify();
      return { ok: r.ok, rows: r.rows, first_broken: r.ok ? null : r.firstBroken };
    },
  );
}
