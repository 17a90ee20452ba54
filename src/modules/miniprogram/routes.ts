import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError } from '../../lib/errors.js';
import { Strict, errorResponses } from '../../http/schemas.js';
import type { MiniProgramService } from './service.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const WxCode = Strict({ code: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' }) });
const Me = Type.Object({ id: Type.String(), display_name: Type.String(), locale: Type.String(), phone: Nullable(Type.String({ description: 'masked: 138****1234' })), created_at: Type.String() });

const customerOf = (request: FastifyRequest) => {
  if (!request.customer) throw new AppError('UNAUTHENTICATED', 'log in first (POST /mp/v1/login)');
  return request.customer;
};

/** The mini-program's own API: login with a wx.login code, then a customer session bearer token on every /mp/v1 route. */
export async function miniProgramRoutes(fastify: FastifyInstance, opts: { miniProgram: MiniProgramService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { miniProgram: mp } = opts;
  const tags = ['mini-program'];

  app.post(
    '/mp/v1/login',
    {
      config: { public: true },
      schema: {
        tags,
        summary: "Log in with the code from wx.login (exchanged through WeChat's code2session); creates the customer on first login. 422 when WeChat refuses the code; 429 (Retry-After) past MP_LOGIN_PER_IP attempts per IP and window. Returns a bearer token for the other /mp/v1 routes, valid 30 days",
        body: WxCode,
        response: { 200: Type.Object({ token: Type.String(), expires_at: Type.String(), customer: Type.Object({ id: Type.String(), phone: Nullable(Type.String()), created: Type.Boolean() }) }), ...errorResponses },
      },
    },
    async (request, reply) => reply.header('cache-control', 'no-store').send(await mp.login(request.body.code, { ip: request.ip })),
  );

  app.post(
    '/mp/v1/phone',
    {
      config: { customer: true },
      schema: { tags, summary: "Store the customer's phone number from a getPhoneNumber code (kept encrypted; answered masked)", body: WxCode, response: { 200: Type.Object({ phone: Type.String({ description: 'masked' }) }), ...errorResponses } },
    },
    async (request) => mp.setPhone(customerOf(request), request.body.code),
  );

  app.get('/mp/v1/me', { config: { customer: true }, schema: { tags, summary: 'The logged-in customer (phone masked)', response: { 200: Me, ...errorResponses } } }, async (request) => mp.me(customerOf(request)));

  app.post(
    '/mp/v1/logout',
    { config: { customer: true }, schema: { tags, summary: 'End this session', response: { 200: Type.Object({ ok: Type.Boolean() }), ...errorResponses } } },
    async (request) => {
      await mp.logout(customerOf(request));
      return { ok: true };
    },
  );
}
