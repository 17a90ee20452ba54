import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Strict, errorResponses } from '../../http/schemas.js';
import { AppError } from '../../lib/errors.js';
import { riskActions } from './features.js';
import { ruleActions, ruleModes } from './risk-rules.js';
import type { Candidate } from './backtest.js';
import type { BacktestService } from './backtest-service.js';
import type { StaffRiskService } from './staff-risk.js';
import { staffOf } from '../../http/auth.js';

const lit = <T extends string>(xs: readonly T[]) => Type.Union(xs.map((x) => Type.Literal(x)));
const Ids = Type.Array(Type.String());
const Bucket = Type.Object({ count: Type.Integer(), examples: Ids });
const Confusion = {
  flagged_labelled: Type.Integer(),
  true_positives: Type.Integer(),
  false_positives: Type.Integer(),
  false_negatives: Type.Integer(),
  precision: Type.Union([Type.Number(), Type.Null()]),
  recall: Type.Union([Type.Number(), Type.Null()]),
};
const Report = Type.Object({
  period: Type.Object({ from: Type.String(), to: Type.String() }),
  action: Type.Union([Type.String(), Type.Null()]),
  batches: Type.Integer(),
  batch_size: Type.Integer(),
  lists_note: Type.String(),
  replayed: Type.Integer(),
  labelled: Type.Object({ fraud: Type.Integer(), legit: Type.Integer() }),
  changed: Type.Integer(),
  newly_blocked: Bucket,
  newly_reviewed: Bucket,
  newly_challenged: Bucket,
  newly_allowed: Bucket,
  candidate: Type.Object({ ...Confusion, true_positive_examples: Ids, false_positive_examples: Ids, false_negative_examples: Ids }),
  baseline: Type.Object(Confusion),
  candidate_rule_hits: Bucket,
});
const AppliesTo = Type.Array(lit(riskActions), { maxItems: riskActions.length, uniqueItems: true });
const Time = Type.String({ format: 'date-time' });
const StaffRisk = Type.Object({
  staff_id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  role: Type.String(),
  disabled: Type.Boolean(),
  revealed_1h: Type.Integer(),
  exported_24h: Type.Integer(),
  blocked: Type.Boolean(),
  block: Type.Union([Type.Object({ id: Type.String(), kind: Type.String(), count: Type.Integer(), threshold: Type.Integer(), blocked_at: Type.String() }), Type.Null()]),
});

/** Backtests of rule changes, and staff risk (reveal/export counts, blocks). */
export async function riskBacktestStaffRoutes(fastify: FastifyInstance, opts: { backtest: BacktestService; staffRisk: StaffRiskService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['admin: risk'];

  app.post(
    '/admin/risk/backtest',
    {
      config: { permission: 'risk:read' },
      schema: {
        tags,
        summary: 'Replay past decisions (stored features) through the rules in force with a candidate rule or a change to a rule; counts what changes and precision/recall against the labels',
        body: Strict({
          rule: Type.Optional(Strict({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })), action: lit(ruleActions), mode: Type.Optional(lit(ruleModes)), condition: Type.Unknown(), applies_to: Type.Optional(AppliesTo) }, { description: 'a new rule to try' })),
          rule_id: Type.Optional(Type.String({ pattern: '^rrl_[0-9A-HJKMNP-TV-Z]{26}$', description: 'an existing rule to change (with `change`)' })),
          change: Type.Optional(Strict({ condition: Type.Optional(Type.Unknown()), action: Type.Optional(lit(ruleActions)), mode: Type.Optional(lit(ruleModes)), enabled: Type.Optional(Type.Boolean()), applies_to: Type.Optional(AppliesTo) })),
          from: Time,
          to: Time,
          action: Type.Optional(lit(riskActions)),
        }),
        response: { 200: Report, ...errorResponses },
      },
    },
    async (request) => {
      const b = request.body;
      let candidate: Candidate;
      if (b.rule && (b.rule_id || b.change)) throw new AppError('VALIDATION_FAILED', 'rule: give either rule, or rule_id with change', [{ field: 'rule', message: 'give either rule, or rule_id with change' }]);
      if (b.rule) candidate = { kind: 'new', rule: { name: b.rule.name, action: b.rule.action, mode: b.rule.mode, condition: b.rule.condition, appliesTo: b.rule.applies_to } };
      else if (b.rule_id && b.change) candidate = { kind: 'change', ruleId: b.rule_id, patch: { condition: b.change.condition, action: b.change.action, mode: b.change.mode, enabled: b.change.enabled, appliesTo: b.change.applies_to } };
      else {
        const field = b.rule_id ? 'change' : b.change ? 'rule_id' : 'rule';
        throw new AppError('VALIDATION_FAILED', `${field}: is required (a new rule, or rule_id with change)`, [{ field, message: 'is required (a new rule, or rule_id with change)' }]);
      }
      return opts.backtest.run({ candidate, from: new Date(b.from), to: new Date(b.to), action: b.action });
    },
  );

  app.get(
    '/admin/risk/staff',
    {
      config: { permission: 'risk:read' },
      schema: {
        tags,
        summary: 'Staff with the codes they revealed (last hour) and exported (last 24 hours), and whether they are blocked',
        querystring: Strict({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Type.Optional(Type.String({ pattern: '^stf_[0-9A-HJKMNP-TV-Z]{26}$' })) }),
        response: { 200: Type.Object({ data: Type.Array(StaffRisk), has_more: Type.Boolean(), next_cursor: Type.Union([Type.String(), Type.Null()]), thresholds: Type.Object({ reveal_per_hour: Type.Object({ alert: Type.Integer(), block: Type.Integer() }), export_codes_per_day: Type.Object({ alert: Type.Integer(), block: Type.Integer() }) }) }), ...errorResponses },
      },
    },
    async (request) => {
      const t = opts.staffRisk.thresholds;
      return { ...(await opts.staffRisk.list(request.query)), thresholds: { reveal_per_hour: t.reveal, export_codes_per_day: t.export } };
    },
  );

  app.post(
    '/admin/risk/staff/:id/unblock',
    {
      config: { permission: 'risk:staff-unblock' },
      schema: {
        tags,
        summary: 'Lift a staff risk block (owners only; audited); the staff member\'s counts start again',
        params: Strict({ id: Type.String({ pattern: '^stf_[0-9A-HJKMNP-TV-Z]{26}$' }) }),
        body: Strict({ reason: Type.String({ minLength: 5, maxLength: 500 }) }),
        response: { 200: Type.Object({ staff_id: Type.String(), block_id: Type.String(), lifted_at: Type.String(), lifted_by: Type.String() }), ...errorResponses },
      },
    },
    async (request) => opts.staffRisk.unblock(request.params.id, request.body.reason, staffOf(request)),
  );
}
