import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page } from '../../lib/pagination.js';
import { AppError } from '../../lib/errors.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import { withdrawalMethods, withdrawalStatuses } from './fees.js';
import { statementCsv, statementFormats, statementXlsx, type Statement } from './statement.js';
import type { WithdrawalService } from './service.js';
import type { Tx } from '../../db/client.js';
import type { RiskService } from '../risk/service.js';
import type { RiskReviews } from '../risk/reviews.js';
import { gateInputOf, refuseUnlessPassed } from '../risk/gate-http.js';

const Withdrawal = Type.Object({
  id: Type.String(),
  agent_id: Type.String(),
  amount_fen: Type.Integer(),
  fee_fen: Type.Integer(),
  net_fen: Type.Integer(),
  method: Type.String(),
  payout_account: Type.String({ description: 'masked' }),
  status: Type.String(),
  payout_reference: Type.Union([Type.String(), Type.Null()]),
  reject_reason: Type.Union([Type.String(), Type.Null()]),
  approvals_needed: Type.Integer({ description: '2 at or above the dual-approval amount: two different finance staff approve' }),
  first_approved_by: Type.Union([Type.String(), Type.Null()]),
  first_approved_at: Type.Union([Type.String(), Type.Null()]),
  approved_by: Type.Union([Type.String(), Type.Null()]),
  approved_at: Type.Union([Type.String(), Type.Null()]),
  paid_by: Type.Union([Type.String(), Type.Null()]),
  paid_at: Type.Union([Type.String(), Type.Null()]),
  rejected_by: Type.Union([Type.String(), Type.Null()]),
  rejected_at: Type.Union([Type.String(), Type.Null()]),
  risk_hold: Type.Boolean({ description: 'held by the risk gate: finance approval answers 409 RISK_REVIEW_PENDING until risk staff release it' }),
  created_at: Type.String(),
});
const WithdrawalCursor = Type.String({ pattern: '^wdr_[0-9A-HJKMNP-TV-Z]{26}$' });
const Status = Type.Union(withdrawalStatuses.map((s) => Type.Literal(s)));
const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD, China Standard Time' });
const StatementQuery = Strict({ from: Day, to: Day, format: Type.Union(statementFormats.map((f) => Type.Literal(f)), { default: 'json' }) });
const StatementBody = Type.Unknown({ description: 'JSON: {agent_id, from, to, accounts: [...opening/closing], entries: [...running balances]}; CSV or XLSX as a download' });

/** The API key's owner, when it is an agent: only agents have commission to withdraw. */
function agentOf(request: FastifyRequest): string {
  const key = request.apiKey!;
  if (key.ownerType !== 'agent') throw new AppError('FORBIDDEN', 'only an agent\'s API key may withdraw commission or read a statement');
  return key.ownerId;
}

async function sendStatement(reply: FastifyReply, s: Statement, format: 'json' | 'csv' | 'xlsx') {
  if (format === 'json') return s;
  const name = `kaquan-statement-${s.agent_id}-${s.from}-${s.to}`;
  reply.header('cache-control', 'no-store');
  if (format === 'csv') return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}.csv"`).send(statementCsv(s));
  return reply.type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet').header('content-disposition', `attachment; filename="${name}.xlsx"`).send(await statementXlsx(s));
}

export async function withdrawalRoutes(fastify: FastifyInstance, opts: { withdrawals: WithdrawalService; risk?: RiskService; reviews?: RiskReviews }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { withdrawals } = opts;

  app.post(
    '/open/v1/withdrawals',
    {
      config: { signed: true },
      schema: {
        tags: ['open api'],
        summary: 'Withdraw available commission (Idempotency-Key required). The amount leaves the available commission at once; finance approves and pays it, or rejects it and the money comes back. At most WITHDRAWAL_DAILY_COUNT withdrawals and WITHDRAWAL_DAILY_LIMIT_FEN a China Standard Time day (422, field amount_fen). The risk gate may refuse it (403 RISK_BLOCKED / CHALLENGE_REQUIRED, nothing written) or hold it (risk_hold: true) until risk staff review it.',
        headers: Type.Object({ 'idempotency-key': Type.String({ minLength: 8, maxLength: 255, pattern: '^[A-Za-z0-9_.:-]+$' }), 'x-device-id': Type.Optional(Type.String({ maxLength: 256 })), 'x-captcha': Type.Optional(Type.String({ maxLength: 4096 })) }),
        body: Strict({
          amount_fen: Type.Integer({ minimum: 1, maximum: 100_000_000_00 }),
          method: Type.Union(withdrawalMethods.map((m) => Type.Literal(m))),
          payout_account: Type.String({ minLength: 2, maxLength: 128, description: 'bank account number (bank_transfer), openid (wechat_transfer) or a note for manual payouts; stored sealed, shown masked' }),
        }),
        response: { 201: Withdrawal, 200: Withdrawal, ...errorResponses },
      },
    },
    async (request, reply) => {
      const agentId = agentOf(request);
      const b = request.body;
      const { risk, reviews } = opts;
      await risk?.warm();
      const gate = risk
        ? async (tx: Tx, withdrawalId: string) => {
            const d = await risk.assess({ action: 'withdrawal', ...gateInputOf(request), account: { type: 'agent', id: agentId }, agentId, amountFen: b.amount_fen });
            const verdict = refuseUnlessPassed(d);
            if (verdict === 'review') await reviews?.open(tx, { subjectType: 'withdrawal', subjectId: withdrawalId, decisionId: d.decision_id });
            return verdict;
          }
        : undefined;
      const done = await withdrawals.request({ agentId, amountFen: b.amount_fen, method: b.method, payoutAccount: b.payout_account, idempotencyKey: request.headers['idempotency-key'], apiKeyId: request.apiKey!.keyId, ip: request.ip, gate });
      return reply.code(done.statusCode).send(done.withdrawal);
    },
  );

  app.get(
    '/open/v1/withdrawals',
    {
      config: { signed: true },
      schema: { tags: ['open api'], summary: 'Your withdrawals, newest first', querystring: Strict({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Type.Optional(WithdrawalCursor), status: Type.Optional(Status) }), response: { 200: Page(Withdrawal), ...errorResponses } },
    },
    async (request) => withdrawals.list({ ...request.query, agentId: agentOf(request) }),
  );

  app.get(
    '/open/v1/statement',
    { config: { signed: true }, schema: { tags: ['open api'], summary: 'Your statement: every entry of your balance and commission accounts in a period, with opening, running and closing balances (json, csv or xlsx)', querystring: StatementQuery, response: { 200: StatementBody, ...errorResponses } } },
    async (request, reply) => sendStatement(reply, await withdrawals.statement(agentOf(request), request.query.from, request.query.to), request.query.format),
  );

  // ---- admin ----
  const tags = ['admin: finance'];
  app.get(
    '/admin/withdrawals',
    {
      config: { permission: 'finance:withdrawals' },
      schema: { tags, summary: 'Withdrawals, newest first', querystring: Strict({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Type.Optional(WithdrawalCursor), status: Type.Optional(Status), agent_id: Type.Optional(Type.String({ pattern: '^agt_[0-9A-HJKMNP-TV-Z]{26}$' })) }), response: { 200: Page(Withdrawal), ...errorResponses } },
    },
    async (request) => withdrawals.list({ limit: request.query.limit, cursor: request.query.cursor, status: request.query.status, agentId: request.query.agent_id }),
  );

  app.get('/admin/withdrawals/:id', { config: { permission: 'finance:withdrawals' }, schema: { tags, summary: 'One withdrawal (payout account masked)', params: IdParams('wdr'), response: { 200: Withdrawal, ...errorResponses } } }, async (request) => withdrawals.get(request.params.id));

  app.get(
    '/admin/withdrawals/:id/payout-account',
    { config: { permission: 'finance:withdrawals' }, schema: { tags, summary: 'The clear payout account, to make the transfer (audited)', params: IdParams('wdr'), response: { 200: Type.Object({ id: Type.String(), method: Type.String(), payout_account: Type.String() }), ...errorResponses } } },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return withdrawals.revealPayoutAccount(request.params.id, staffOf(request));
    },
  );

  app.post(
    '/admin/withdrawals/:id/approve',
    { config: { permission: 'finance:withdrawals' }, schema: { tags, summary: 'Approve a requested withdrawal. At or above WITHDRAWAL_DUAL_APPROVAL_FEN the first approval leaves it awaiting_second_approval and a different finance staff member must approve it (the same one again is 409); a frozen agent\'s withdrawal cannot be approved (403); approving an approved one is 409', params: IdParams('wdr'), response: { 200: Withdrawal, ...errorResponses } } },
    async (request) => withdrawals.approve(request.params.id, staffOf(request)),
  );

  app.post(
    '/admin/withdrawals/:id/pay',
    {
      config: { permission: 'finance:withdrawals' },
      schema: { tags, summary: 'Record that an approved withdrawal was paid out (amount less fee leaves cash; the fee is income). Whoever approved it may not record the payment (403); nor while the agent is frozen (403)', params: IdParams('wdr'), body: Strict({ reference: Type.String({ minLength: 3, maxLength: 128, description: 'the bank\'s or WeChat\'s transfer reference' }) }), response: { 200: Withdrawal, ...errorResponses } },
    },
    async (request) => withdrawals.pay(request.params.id, staffOf(request), request.body.reference),
  );

  app.post(
    '/admin/withdrawals/:id/reject',
    {
      config: { permission: 'finance:withdrawals' },
      schema: { tags, summary: 'Reject a requested or approved withdrawal: the money goes back to the agent\'s available commission', params: IdParams('wdr'), body: Strict({ reason: Type.String({ minLength: 3, maxLength: 500 }) }), response: { 200: Withdrawal, ...errorResponses } },
    },
    async (request) => withdrawals.reject(request.params.id, staffOf(request), request.body.reason),
  );

  app.get(
    '/admin/agents/:id/statement',
    { config: { permission: 'ledger:read' }, schema: { tags, summary: 'An agent\'s statement: every entry of its balance and commission accounts in a period, with opening, running and closing balances (json, csv or xlsx)', params: IdParams('agt'), querystring: StatementQuery, response: { 200: StatementBody, ...errorResponses } } },
    async (request, reply) => sendStatement(reply, await withdrawals.statement(request.params.id, request.query.from, request.query.to), request.query.format),
  );
}
