import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError } from '../../src/lib/errors.js';
import { errorResponses } from '../../src/http/schemas.js';
import { staffOf } from '../../src/http/auth.js';
import type { ChatLinks } from './links.js';

const LinkCode = Type.Object({
  code: Type.String({ description: 'one-time code; valid 15 minutes, works once' }),
  expires_at: Type.String(),
  command: Type.String({ description: 'what to send to the bot, e.g. "/link ABCD2345"' }),
});

/**
 * One-time codes that link a chat account to an agent (sent by the agent
 * from the chat account its customers know it by) or to a staff member (for
 * admin commands in the admin chat). Issuing a code changes nothing until it
 * is used, so a retry just issues another.
 */
export async function botLinkRoutes(fastify: FastifyInstance, opts: { links: ChatLinks }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/open/v1/agent/chat-link',
    {
      config: { signed: true },
      schema: {
        tags: ['open api: agent back office'],
        summary: "A one-time code that links the calling agent to a chat account: send \"/link CODE\" to the bot (Telegram, WeChat) within 15 minutes; the agent's commands (commission, withdraw, team, share, stock) then work there",
        response: { 201: LinkCode, ...errorResponses },
      },
    },
    async (request, reply) => {
      const key = request.apiKey!;
      if (key.ownerType !== 'agent') throw new AppError('FORBIDDEN', `a chat link needs an agent's API key; this key belongs to a ${key.ownerType}`);
      return reply.code(201).send(await opts.links.issue('agent', key.ownerId));
    },
  );
  app.post(
    '/admin/bots/link-code',
    {
      config: { permission: 'self' },
      schema: {
        tags: ['bots'],
        summary: 'A one-time code that links the logged-in staff member to a chat account: send "/link CODE" in the admin chat within 15 minutes; admin commands there then act as this staff member (within its role)',
        response: { 201: LinkCode, ...errorResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await opts.links.issue('staff', staffOf(request).id)),
  );
}
