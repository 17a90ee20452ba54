import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Platform } from '../../platform.js';

export async function healthRoutes(app: FastifyInstance, opts: { platform: Platform }) {
  const { platform } = opts;
  const Health = Type.Object({ status: Type.String(), checks: Type.Optional(Type.Record(Type.String(), Type.String())) });

  app.get('/healthz', { config: { public: true }, schema: { tags: ['health'], summary: 'The process is up', response: { 200: Health } } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    { config: { public: true }, schema: { tags: ['health'], summary: 'Database and Redis are reachable', response: { 200: Health, 503: Health } } },
    async (_req, reply) => {
      const checks: Record<string, string> = {};
      const probe = async (name: string, fn: () => Promise<void>) => {
        try {
          await Promise.race([fn(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref())]);
          checks[name] = 'ok';
        } catch (e) {
          checks[name] = `down: ${(e as Error).message}`;
        }
      };
      await Promise.all([probe(`database (${platform.database.kind})`, () => platform.database.ping()), probe(`cache (${platform.kv.kind})`, () => platform.kv.ping())]);
      const ok = Object.values(checks).every((v) => v === 'ok');
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', checks });
    },
  );
}
