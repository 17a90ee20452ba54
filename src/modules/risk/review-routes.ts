import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page } from '../../lib/pagination.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import { reviewStatuses, reviewSubjects, type RiskReviews } from './reviews.js';

const lit = <T extends string>(xs: readonly T[]) => Type.Union(xs.map((x) => Type.Literal(x)));
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Review = Type.Object({
  id: Type.String(),
  subject_type: Type.String(),
  subject_id: Type.String(),
  decision_id: Type.String(),
  status: Type.String(),
  reason: Nullable(Type.String()),
  decided_by: Nullable(Type.String()),
  decided_at: Nullable(Type.String()),
  created_at: Type.String(),
});
const DecideBody = Strict({ reason: Type.String({ minLength: 1, maxLength: 500 }) });

/** The review queue: held orders and withdrawals, approved or rejected by the risk role. */
export async function riskReviewRoutes(fastify: FastifyInstance, opts: { reviews: RiskReviews }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { reviews } = opts;
  const tags = ['admin: risk'];

  app.get(
    '/admin/risk/reviews',
    {
      config: { permission: 'risk:review' },
      schema: {
        tags,
        summary: 'Held orders and withdrawals, newest first',
        querystring: Strict({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Type.Optional(Type.String({ pattern: '^rrv_[0-9A-HJKMNP-TV-Z]{26}$' })), status: Type.Optional(lit(reviewStatuses)), subject_type: Type.Optional(lit(reviewSubjects)) }),
        response: { 200: Page(Review), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      return reviews.list({ limit: q.limit, cursor: q.cursor, status: q.status, subjectType: q.subject_type });
    },
  );
  app.get('/admin/risk/reviews/:id', { config: { permission: 'risk:review' }, schema: { tags, summary: 'One review', params: IdParams('rrv'), response: { 200: Review, ...errorResponses } } }, async (request) => reviews.get(request.params.id));
  app.post(
    '/admin/risk/reviews/:id/approve',
    { config: { permission: 'risk:review' }, schema: { tags, summary: 'Release the held order (it proceeds as a new order would) or withdrawal (finance may approve it); labels the decision legit; audited. Decided once (409).', params: IdParams('rrv'), body: DecideBody, response: { 200: Review, ...errorResponses } } },
    async (request) => reviews.approve(request.params.id, request.body.reason, staffOf(request)),
  );
  app.post(
    '/admin/risk/reviews/:id/reject',
    { config: { permission: 'risk:review' }, schema: { tags, summary: 'Reject: the held order is cancelled, the withdrawal rejected (money back to the agent); labels the decision fraud; audited. Decided once (409).', params: IdParams('rrv'), body: DecideBody, response: { 200: Review, ...errorResponses } } },
    async (request) => reviews.reject(request.params.id, request.body.reason, staffOf(request)),
  );
}
