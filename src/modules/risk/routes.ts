import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page } from '../../lib/pagination.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import { riskActions } from './features.js';
import { ruleActions, ruleModes } from './risk-rules.js';
import { listTypes } from './lists.js';
import type { RiskService } from './service.js';

const lit = <T extends string>(xs: readonly T[]) => Type.Union(xs.map((x) => Type.Literal(x)));
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const RiskActionT = lit(riskActions);
const RuleActionT = lit(ruleActions);

const Rule = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  action: Type.String(),
  mode: Type.String(),
  condition: Type.Unknown(),
  applies_to: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  version: Type.Integer(),
  template: Nullable(Type.String()),
  updated_by: Nullable(Type.String()),
  updated_at: Type.String(),
  created_at: Type.String(),
});
const RuleVersion = Type.Object({ version: Type.Integer(), name: Type.String(), description: Type.String(), action: Type.String(), mode: Type.String(), condition: Type.Unknown(), applies_to: Type.Array(Type.String()), enabled: Type.Boolean(), created_by: Nullable(Type.String()), created_at: Type.String() });
const ruleFields = {
  name: Type.String({ minLength: 2, maxLength: 120 }),
  description: Type.String({ maxLength: 1000 }),
  action: RuleActionT,
  mode: lit(ruleModes),
  condition: Type.Unknown({ description: 'JSON condition: {all|any:[...]}, {not}, {field, op, value} (ops eq ne gt gte lt lte in nin), {list: ip|device|phone_hash|openid|telegram_id|account}' }),
  applies_to: Type.Array(RiskActionT, { maxItems: riskActions.length, uniqueItems: true, description: 'actions the rule looks at; empty = all' }),
  enabled: Type.Boolean(),
};
const ListEntry = Type.Object({ id: Type.String(), type: Type.String(), value: Type.String(), reason: Type.String(), expires_at: Nullable(Type.String()), created_by: Nullable(Type.String()), created_at: Type.String() });
const Decision = Type.Object({
  id: Type.String(),
  action: Type.String(),
  subject: Nullable(Type.String()),
  ip: Type.String(),
  device: Nullable(Type.String()),
  decision: Type.String(),
  reasons: Type.Unknown(),
  shadow_matches: Type.Unknown(),
  features: Type.Unknown(),
  score: Type.Union([Type.Number(), Type.Null()]),
  rule_versions: Type.Unknown(),
  label: Nullable(Type.String()),
  labelled_by: Nullable(Type.String()),
  labelled_at: Nullable(Type.String()),
  created_at: Type.String(),
});
const Link = Type.Object({ subject_id: Type.String(), first_seen: Type.String(), last_seen: Type.String(), hits: Type.Integer() });
const Signals = Type.Record(Type.String(), Type.Unknown());
const Cursor = (prefix: string) => Type.Optional(Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$` }));
const Time = Type.String({ format: 'date-time' });

export async function riskRoutes(fastify: FastifyInstance, opts: { risk: RiskService; seedTemplates: boolean }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { risk } = opts;
  // Built-in rules on first start (idempotent); buffered decisions are written before the app lets go of the database.
  if (opts.seedTemplates) app.addHook('onReady', async () => void (await risk.seedTemplates()));
  app.addHook('onClose', async () => risk.close());

  app.get(
    '/risk/captcha',
    {
      config: { public: true },
      schema: {
        tags: ['risk'],
        summary: 'An ALTCHA proof-of-work challenge (valid 2 minutes). Solve it with the ALTCHA widget and retry the refused request with the base64 payload in X-Captcha; each solution is accepted once.',
        response: { 200: Type.Object({ algorithm: Type.String(), challenge: Type.String(), maxnumber: Type.Optional(Type.Integer()), salt: Type.String(), signature: Type.String(), expires_at: Type.String() }), ...errorResponses },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'no-store');
      return risk.issueCaptcha();
    },
  );

  const tags = ['admin: risk'];
  app.get('/admin/risk/rules', { config: { permission: 'risk:read' }, schema: { tags, summary: 'Risk rules in evaluation order (allow, block, review, challenge; oldest first within each)', querystring: Strict({ enabled: Type.Optional(Type.Boolean()) }), response: { 200: Type.Object({ data: Type.Array(Rule) }), ...errorResponses } } }, async (request) => ({ data: await risk.listRules(request.query) }));
  app.get('/admin/risk/rules/:id', { config: { permission: 'risk:read' }, schema: { tags, summary: 'One rule', params: IdParams('rrl'), response: { 200: Rule, ...errorResponses } } }, async (request) => risk.getRule(request.params.id));
  app.get('/admin/risk/rules/:id/versions', { config: { permission: 'risk:read' }, schema: { tags, summary: 'Every version of a rule, newest first', params: IdParams('rrl'), response: { 200: Type.Object({ data: Type.Array(RuleVersion) }), ...errorResponses } } }, async (request) => ({ data: await risk.ruleVersions(request.params.id) }));
  app.post(
    '/admin/risk/rules',
    { config: { permission: 'risk:manage' }, schema: { tags, summary: 'Create a rule (an invalid condition is 400 with the path of the bad node)', body: Strict({ name: ruleFields.name, description: Type.Optional(ruleFields.description), action: ruleFields.action, mode: Type.Optional(ruleFields.mode), condition: ruleFields.condition, applies_to: Type.Optional(ruleFields.applies_to), enabled: Type.Optional(ruleFields.enabled) }), response: { 201: Rule, ...errorResponses } } },
    async (request, reply) => {
      const b = request.body;
      return reply.code(201).send(await risk.createRule({ name: b.name, description: b.description, action: b.action, mode: b.mode ?? 'enforce', condition: b.condition, appliesTo: b.applies_to ?? [], enabled: b.enabled }, staffOf(request)));
    },
  );
  app.patch(
    '/admin/risk/rules/:id',
    { config: { permission: 'risk:manage' }, schema: { tags, summary: 'Change a rule: a new version each time', params: IdParams('rrl'), body: Strict({ name: Type.Optional(ruleFields.name), description: Type.Optional(ruleFields.description), action: Type.Optional(ruleFields.action), mode: Type.Optional(ruleFields.mode), condition: Type.Optional(ruleFields.condition), applies_to: Type.Optional(ruleFields.applies_to), enabled: Type.Optional(ruleFields.enabled) }, { minProperties: 1 }), response: { 200: Rule, ...errorResponses } } },
    async (request) => {
      const { applies_to, ...rest } = request.body;
      return risk.updateRule(request.params.id, { ...rest, ...(applies_to ? { appliesTo: applies_to } : {}) }, staffOf(request));
    },
  );
  app.post('/admin/risk/rules/:id/disable', { config: { permission: 'risk:manage' }, schema: { tags, summary: 'Disable a rule (a new version)', params: IdParams('rrl'), response: { 200: Rule, ...errorResponses } } }, async (request) => risk.disableRule(request.params.id, staffOf(request)));

  app.get('/admin/risk/lists', { config: { permission: 'risk:read' }, schema: { tags, summary: 'Block-list entries, newest first', querystring: Strict({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Cursor('rle'), type: Type.Optional(lit(listTypes)) }), response: { 200: Page(ListEntry), ...errorResponses } } }, async (request) => risk.listEntries(request.query));
  app.get('/admin/risk/lists/:id', { config: { permission: 'risk:read' }, schema: { tags, summary: 'One block-list entry', params: IdParams('rle'), response: { 200: ListEntry, ...errorResponses } } }, async (request) => risk.getEntry(request.params.id));
  app.post(
    '/admin/risk/lists',
    { config: { permission: 'risk:manage' }, schema: { tags, summary: 'Add a block-list entry (ip, cidr, device, phone_hash, openid, telegram_id, account); every instance applies it within about a second', body: Strict({ type: lit(listTypes), value: Type.String({ minLength: 1, maxLength: 200 }), reason: Type.Optional(Type.String({ maxLength: 500 })), expires_at: Type.Optional(Time) }), response: { 201: ListEntry, ...errorResponses } } },
    async (request, reply) => {
      const b = request.body;
      return reply.code(201).send(await risk.addEntry({ type: b.type, value: b.value, reason: b.reason, expiresAt: b.expires_at ? new Date(b.expires_at) : null }, staffOf(request)));
    },
  );
  app.patch(
    '/admin/risk/lists/:id',
    { config: { permission: 'risk:manage' }, schema: { tags, summary: 'Change an entry\'s reason or expiry', params: IdParams('rle'), body: Strict({ reason: Type.Optional(Type.String({ maxLength: 500 })), expires_at: Type.Optional(Type.Union([Time, Type.Null()])) }, { minProperties: 1 }), response: { 200: ListEntry, ...errorResponses } } },
    async (request) => {
      const b = request.body;
      return risk.updateEntry(request.params.id, { reason: b.reason, expiresAt: b.expires_at === undefined ? undefined : b.expires_at === null ? null : new Date(b.expires_at) }, staffOf(request));
    },
  );
  app.delete('/admin/risk/lists/:id', { config: { permission: 'risk:manage' }, schema: { tags, summary: 'Remove a block-list entry', params: IdParams('rle'), response: { 204: Type.Null(), ...errorResponses } } }, async (request, reply) => {
    await risk.removeEntry(request.params.id, staffOf(request));
    return reply.code(204).send(null);
  });

  app.get(
    '/admin/risk/decisions',
    { config: { permission: 'risk:read' }, schema: { tags, summary: 'Gate decisions, newest first', querystring: Strict({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Cursor('rdc'), action: Type.Optional(RiskActionT), decision: Type.Optional(RuleActionT), label: Type.Optional(lit(['fraud', 'legit', 'none'] as const)), subject: Type.Optional(Type.String({ maxLength: 120, description: 'e.g. customer:cus_...' })) }), response: { 200: Page(Decision), ...errorResponses } } },
    async (request) => risk.listDecisions(request.query),
  );
  app.get('/admin/risk/decisions/:id', { config: { permission: 'risk:read' }, schema: { tags, summary: 'One decision with its features and reasons', params: IdParams('rdc'), response: { 200: Decision, ...errorResponses } } }, async (request) => risk.getDecision(request.params.id));
  app.post(
    '/admin/risk/decisions/:id/label',
    { config: { permission: 'risk:review' }, schema: { tags, summary: 'Label a decision fraud or legit (for training and backtests)', params: IdParams('rdc'), body: Strict({ label: lit(['fraud', 'legit'] as const) }), response: { 200: Decision, ...errorResponses } } },
    async (request) => risk.label(request.params.id, request.body.label, staffOf(request)),
  );

  app.get(
    '/admin/risk/devices/:id',
    { config: { permission: 'risk:read' }, schema: { tags, summary: 'A device and what it was seen with: accounts, phone hashes (never numbers), IPs', params: Strict({ id: Type.String({ minLength: 1, maxLength: 200 }) }), response: { 200: Type.Object({ device_id: Type.String(), first_seen: Type.String(), last_seen: Type.String(), signals: Signals, accounts: Type.Array(Link), phone_hashes: Type.Array(Link), ips: Type.Array(Link) }), ...errorResponses } } },
    async (request) => risk.device(request.params.id),
  );
  app.get(
    '/admin/risk/accounts/:type/:id/devices',
    { config: { permission: 'risk:read' }, schema: { tags, summary: 'The devices an account was seen on', params: Strict({ type: lit(['customer', 'agent', 'staff'] as const), id: Type.String({ minLength: 1, maxLength: 120 }) }), response: { 200: Type.Object({ account: Type.String(), devices: Type.Array(Type.Object({ device_id: Type.String(), first_seen: Type.String(), last_seen: Type.String(), hits: Type.Integer(), signals: Signals })) }), ...errorResponses } } },
    async (request) => risk.accountDevices(request.params.type, request.params.id),
  );
}
