import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { PageQuery, Page } from '../../lib/pagination.js';
import { Email, IdParams, Password, Strict, errorResponses } from '../../http/schemas.js';
import { SESSION_COOKIE, requestMeta, staffOf } from '../../http/auth.js';
import type { AuthService } from './service.js';
import type { RiskService } from '../risk/service.js';
import { gateInputOf, refuseUnlessPassed } from '../risk/gate-http.js';
import { rolePermissions, roles } from './permissions.js';

const Staff = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  role: Type.String(),
  totp_enabled: Type.Boolean(),
  disabled: Type.Boolean(),
  created_at: Type.String(),
  last_login_at: Type.Union([Type.String(), Type.Null()]),
});
const Role = Type.Union(roles.map((r) => Type.Literal(r)));
const ApiKey = Type.Object({
  id: Type.String(),
  owner_type: Type.String(),
  owner_id: Type.String(),
  name: Type.String(),
  created_at: Type.String(),
  revoked_at: Type.Union([Type.String(), Type.Null()]),
  last_used_at: Type.Union([Type.String(), Type.Null()]),
});
const Ok = Type.Object({ ok: Type.Boolean() });

export async function authRoutes(fastify: FastifyInstance, opts: { auth: AuthService; secureCookies: boolean; risk?: RiskService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { auth } = opts;
  const tags = ['admin: auth'];

  app.post(
    '/admin/auth/login',
    {
      config: { public: true },
      schema: {
        tags,
        summary: 'Log in; sets an HttpOnly session cookie and also returns a bearer token. The risk gate may refuse (403 RISK_BLOCKED) or ask for a captcha (403 CHALLENGE_REQUIRED: retry with X-Captcha).',
        headers: Type.Object({ 'x-device-id': Type.Optional(Type.String({ maxLength: 256 })), 'x-captcha': Type.Optional(Type.String({ maxLength: 4096 })) }),
        body: Strict({ email: Email, password: Password, otp: Type.Optional(Type.String({ pattern: '^\\d{6}$' })) }),
        response: { 200: Type.Object({ user: Staff, token: Type.String(), expires_at: Type.String() }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const risk = opts.risk;
      const gate = risk
        ? {
            before: async (account: { type: 'staff'; id: string }) => void refuseUnlessPassed(await risk.assess({ action: 'login', ...gateInputOf(request), account })),
            failed: (account: { type: 'staff'; id: string }) => risk.recordFailure({ action: 'login', ip: request.ip, deviceId: gateInputOf(request).deviceId, account }),
          }
        : undefined;
      const result = await auth.login(request.body, requestMeta(request), gate);
      reply.setCookie(SESSION_COOKIE, result.token, {
        signed: true,
        httpOnly: true,
        sameSite: 'strict',
        secure: opts.secureCookies,
        path: '/',
        expires: result.expiresAt,
      });
      return { user: result.user, token: result.token, expires_at: result.expiresAt.toISOString() };
    },
  );

  app.post('/admin/auth/logout', { config: { permission: 'self' }, schema: { tags, summary: 'End this session', response: { 200: Ok, ...errorResponses } } }, async (request, reply) => {
    await auth.logout(request.staff!, requestMeta(request));
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  });

  app.get(
    '/admin/auth/me',
    { config: { permission: 'self' }, schema: { tags, summary: 'Who is logged in, with the permissions of the role', response: { 200: Type.Object({ user: Staff, permissions: Type.Array(Type.String()) }), ...errorResponses } } },
    async (request) => {
      return { user: await auth.getStaff(request.staff!.userId), permissions: [...rolePermissions[request.staff!.role]] };
    },
  );

  app.post(
    '/admin/auth/password',
    {
      config: { permission: 'self' },
      schema: { tags, summary: 'Change own password', body: Strict({ current_password: Password, new_password: Password }), response: { 200: Ok, ...errorResponses } },
    },
    async (request) => {
      await auth.changePassword(request.staff!.userId, request.body.current_password, request.body.new_password, requestMeta(request));
      return { ok: true };
    },
  );

  app.post(
    '/admin/auth/totp/enroll',
    { config: { permission: 'self' }, schema: { tags, summary: 'Start second-factor enrolment', response: { 200: Type.Object({ secret: Type.String(), otpauth_url: Type.String() }), ...errorResponses } } },
    async (request) => auth.beginTotp(request.staff!.userId),
  );

  app.post(
    '/admin/auth/totp/confirm',
    {
      config: { permission: 'self' },
      schema: { tags, summary: 'Confirm enrolment with a code; the second factor is required from then on', body: Strict({ otp: Type.String({ pattern: '^\\d{6}$' }) }), response: { 200: Ok, ...errorResponses } },
    },
    async (request) => {
      await auth.confirmTotp(request.staff!.userId, request.body.otp, requestMeta(request));
      return { ok: true };
    },
  );

  // ---- staff accounts ----
  const staffTags = ['admin: staff'];
  app.get(
    '/admin/staff',
    { config: { permission: 'staff:read' }, schema: { tags: staffTags, summary: 'List staff accounts', querystring: PageQuery, response: { 200: Page(Staff), ...errorResponses } } },
    async (request) => auth.listStaff(request.query),
  );

  app.post(
    '/admin/staff',
    {
      config: { permission: 'staff:manage' },
      schema: {
        tags: staffTags,
        summary: 'Create a staff account',
        body: Strict({ email: Email, name: Type.String({ minLength: 1, maxLength: 64 }), role: Role, password: Password }),
        response: { 201: Staff, ...errorResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await auth.createStaff(request.body, staffOf(request))),
  );

  app.patch(
    '/admin/staff/:id',
    {
      config: { permission: 'staff:manage' },
      schema: {
        tags: staffTags,
        summary: 'Change role, name or disable a staff account (disabling ends its sessions)',
        params: IdParams('stf'),
        body: Strict({ role: Type.Optional(Role), name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })), disabled: Type.Optional(Type.Boolean()) }, { minProperties: 1 }),
        response: { 200: Staff, ...errorResponses },
      },
    },
    async (request) => auth.updateStaff(request.params.id, request.body, staffOf(request)),
  );

  // ---- API keys for the open API ----
  const keyTags = ['admin: api keys'];
  app.get(
    '/admin/api-keys',
    { config: { permission: 'apikeys:manage' }, schema: { tags: keyTags, summary: 'List API keys (secrets are never shown again)', querystring: PageQuery, response: { 200: Page(ApiKey), ...errorResponses } } },
    async (request) => auth.listApiKeys(request.query),
  );

  app.post(
    '/admin/api-keys',
    {
      config: { permission: 'apikeys:manage' },
      schema: {
        tags: keyTags,
        summary: 'Issue an API key to an agent or partner; the secret is in this response only',
        body: Strict({ owner_type: Type.Union([Type.Literal('agent'), Type.Literal('partner')]), owner_id: Type.String({ minLength: 1, maxLength: 64 }), name: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 201: Type.Object({ id: Type.String(), secret: Type.String(), owner_type: Type.String(), owner_id: Type.String(), name: Type.String() }), ...errorResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await auth.createApiKey({ ownerType: request.body.owner_type, ownerId: request.body.owner_id, name: request.body.name }, staffOf(request))),
  );

  app.delete(
    '/admin/api-keys/:id',
    { config: { permission: 'apikeys:manage' }, schema: { tags: keyTags, summary: 'Revoke an API key', params: IdParams('key'), response: { 200: Ok, ...errorResponses } } },
    async (request) => {
      await auth.revokeApiKey(request.params.id, staffOf(request));
      return { ok: true };
    },
  );

  // ---- open API: who am I ----
  app.get(
    '/open/v1/whoami',
    {
      config: { signed: true },
      schema: { tags: ['open api'], summary: 'The key and owner a signed request authenticates as', response: { 200: Type.Object({ key_id: Type.String(), owner_type: Type.String(), owner_id: Type.String() }), ...errorResponses } },
    },
    async (request) => ({ key_id: request.apiKey!.keyId, owner_type: request.apiKey!.ownerType, owner_id: request.apiKey!.ownerId }),
  );
}
