import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Platform } from '../../platform.js';
import type { Tx } from '../../db/client.js';
import { Page, PageQuery } from '../../lib/pagination.js';
import { AppError } from '../../lib/errors.js';
import { Strict, errorResponses } from '../../http/schemas.js';
import type { AgentService, AgentView } from '../agents/service.js';
import type { AgentBackOffice } from '../agents/back-office.js';
import type { CommissionService } from '../commissions/service.js';
import type { CustomerService } from '../customers/service.js';
import type { WithdrawalService } from '../withdrawals/service.js';
import { chinaDayStart } from '../withdrawals/fees.js';
import type { RiskService } from '../risk/service.js';
import type { RiskReviews } from '../risk/reviews.js';
import { gateInputOf, refuseUnlessPassed } from '../risk/gate-http.js';
import type { ChatLinks } from '../../../bots/core/links.js';

const ULID = '[0-9A-HJKMNP-TV-Z]{26}';
const Cursor = (prefix: string) => Type.Optional(Type.String({ pattern: `^${prefix}_${ULID}$`, description: 'next_cursor of the previous page' }));
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const AgentRef = Type.Object({ id: Type.String(), name: Type.String(), role: Type.String(), status: Type.String() });
const Summary = Type.Object({
  agent: AgentRef,
  commission_today_fen: Type.Integer({ description: 'earned today (China time), net of reversals' }),
  commission_month_fen: Type.Integer({ description: 'earned this month (China time)' }),
  commission_pending_fen: Type.Integer({ description: 'in the hold period' }),
  commission_available_fen: Type.Integer({ description: 'can be withdrawn' }),
  clawback_due_fen: Type.Integer(),
  team_size: Type.Integer(),
});
const TeamMember = Type.Object({ id: Type.String(), name: Type.String(), role: Type.String(), depth: Type.Integer({ description: '1 = direct' }), status: Type.String(), joined_at: Type.String(), month_sales_fen: Type.Integer() });
const Commission = Type.Object({ id: Type.String(), order_id: Type.String(), level: Type.Integer(), amount_fen: Type.Integer(), status: Type.String(), reversed_fen: Type.Integer(), available_at: Type.String(), settled_at: Nullable(Type.String()), created_at: Type.String() });
const Withdrawal = Type.Object({ id: Type.String(), amount_fen: Type.Integer(), fee_fen: Type.Integer(), net_fen: Type.Integer(), method: Type.String(), payout_account: Type.String({ description: 'masked' }), status: Type.String(), reject_reason: Nullable(Type.String()), risk_hold: Type.Boolean(), created_at: Type.String(), paid_at: Nullable(Type.String()) });

export interface MpAgentDeps {
  platform: Platform;
  agents: Pick<AgentService, 'ofCustomer'>;
  backOffice: Pick<AgentBackOffice, 'summary' | 'team'>;
  commissions: Pick<CommissionService, 'earnedByPeriod' | 'listCommissions'>;
  withdrawals: Pick<WithdrawalService, 'request' | 'list'>;
  customers: Pick<CustomerService, 'get'>;
  links: Pick<ChatLinks, 'consume'>;
  risk?: RiskService;
  reviews?: RiskReviews;
}

/** Start of the China (UTC+8) month `at` falls in. */
function chinaMonthStart(at: Date): Date {
  const offset = 8 * 3_600_000;
  const local = new Date(at.getTime() + offset);
  return new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), 1) - offset);
}
const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/**
 * The agent centre for group leaders in the mini-program: a customer whose account is linked to an agent (once, with a
 * one-time code from the agent back office, as "/link CODE" does in the chats) sees that agent's commission, team and
 * withdrawals, and withdraws. Every route acts for the session customer's own agent only; a customer without one gets 403.
 */
export async function mpAgentRoutes(fastify: FastifyInstance, opts: MpAgentDeps) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { platform, backOffice } = opts;
  const tags = ['mini-program: agent centre'];

  const customerIdOf = (request: FastifyRequest) => {
    if (!request.customer) throw new AppError('UNAUTHENTICATED', 'log in first (POST /mp/v1/login)');
    return request.customer.customerId;
  };
  async function agentOf(request: FastifyRequest): Promise<AgentView> {
    const agent = await opts.agents.ofCustomer(customerIdOf(request));
    if (!agent) throw new AppError('FORBIDDEN', 'this account is not linked to an agent: link it with a code from the agent back office (POST /mp/v1/agent/link)', { reason: 'NOT_LINKED' });
    return agent;
  }
  const agentRef = (a: AgentView) => ({ id: a.id, name: a.name, role: a.role, status: a.status });

  app.post(
    '/mp/v1/agent/link',
    {
      config: { customer: true },
      schema: {
        tags,
        summary: "Link my account to my agent account with a one-time code (POST /open/v1/agent/chat-link, valid 15 minutes, works once; the same code the chats take as \"/link CODE\"). 422 when the code is unknown, used or expired",
        body: Strict({ code: Type.String({ minLength: 4, maxLength: 16, pattern: '^[A-Za-z0-9]+$' }) }),
        response: { 200: Type.Object({ agent: AgentRef }), ...errorResponses },
      },
    },
    async (request) => {
      const customerId = customerIdOf(request);
      const linked = await opts.links.consume(request.body.code, { customerId, userKey: `miniprogram:${customerId}` }, 'agent');
      if (!linked) throw new AppError('UNPROCESSABLE', 'code: unknown, already used or expired; ask the agent back office for a new one', [{ field: 'code', message: 'unknown, used or expired' }]);
      return { agent: agentRef((await opts.agents.ofCustomer(customerId))!) };
    },
  );

  app.get(
    '/mp/v1/agent/summary',
    { config: { customer: true }, schema: { tags, summary: 'My agent: commission today, this month, pending and available, and team size', response: { 200: Summary, ...errorResponses } } },
    async (request) => {
      const agent = await agentOf(request);
      const now = platform.clock.now();
      const end = new Date(now.getTime() + 1);
      const s = await backOffice.summary(agent.id);
      const today = sum(await opts.commissions.earnedByPeriod(agent.id, { period: 'day', from: chinaDayStart(now), end }));
      const month = sum(await opts.commissions.earnedByPeriod(agent.id, { period: 'month', from: chinaMonthStart(now), end }));
      return {
        agent: agentRef(agent),
        commission_today_fen: today,
        commission_month_fen: month,
        commission_pending_fen: s.balances.commission_pending_fen,
        commission_available_fen: s.balances.commission_available_fen,
        clawback_due_fen: s.balances.clawback_due_fen,
        team_size: s.team_size,
      };
    },
  );

  app.get(
    '/mp/v1/agent/team',
    { config: { customer: true }, schema: { tags, summary: 'My downline, newest first, with this month\'s sales', querystring: Strict({ limit: PageQuery.properties.limit, cursor: Cursor('agt') }), response: { 200: Page(TeamMember), ...errorResponses } } },
    async (request) => backOffice.team((await agentOf(request)).id, request.query),
  );

  app.get(
    '/mp/v1/agent/commissions',
    {
      config: { customer: true },
      schema: { tags, summary: 'My commissions, newest first', querystring: Strict({ limit: PageQuery.properties.limit, cursor: Cursor('com'), status: Type.Optional(Type.String({ maxLength: 32 })) }), response: { 200: Page(Commission), ...errorResponses } },
    },
    async (request) => opts.commissions.listCommissions({ ...request.query, agentId: (await agentOf(request)).id }),
  );

  app.get(
    '/mp/v1/agent/withdrawals',
    { config: { customer: true }, schema: { tags, summary: 'My withdrawals, newest first', querystring: Strict({ limit: PageQuery.properties.limit, cursor: Cursor('wdr') }), response: { 200: Page(Withdrawal), ...errorResponses } } },
    async (request) => opts.withdrawals.list({ ...request.query, agentId: (await agentOf(request)).id }),
  );

  app.post(
    '/mp/v1/agent/withdrawals',
    {
      config: { customer: true },
      schema: {
        tags,
        summary: 'Withdraw available commission (Idempotency-Key required): wechat_transfer pays to the WeChat account I am logged in with; bank_transfer needs payout_account. Finance approves and pays it. 422 (field amount_fen) over the available commission or the daily limits; 403 RISK_BLOCKED / CHALLENGE_REQUIRED',
        headers: Type.Object({ 'idempotency-key': Type.String({ minLength: 8, maxLength: 255, pattern: '^[A-Za-z0-9_.:-]+$' }), 'x-device-id': Type.Optional(Type.String({ maxLength: 256 })), 'x-captcha': Type.Optional(Type.String({ maxLength: 4096 })) }),
        body: Strict({
          amount_fen: Type.Integer({ minimum: 1, maximum: 100_000_000_00 }),
          method: Type.Union([Type.Literal('wechat_transfer'), Type.Literal('bank_transfer')]),
          payout_account: Type.Optional(Type.String({ minLength: 6, maxLength: 64, pattern: '^[0-9 -]+$', description: 'bank account number (bank_transfer only); stored sealed, shown masked' })),
        }),
        response: { 201: Withdrawal, 200: Withdrawal, ...errorResponses },
      },
    },
    async (request, reply) => {
      const agent = await agentOf(request);
      const b = request.body;
      let payoutAccount: string;
      if (b.method === 'bank_transfer') {
        if (!b.payout_account) throw new AppError('VALIDATION_FAILED', 'payout_account: required for bank_transfer', [{ field: 'payout_account', message: 'required for bank_transfer' }]);
        payoutAccount = b.payout_account.replace(/[\s-]/g, '');
      } else {
        const openid = (await opts.customers.get(customerIdOf(request))).identities.find((i) => i.provider === 'miniprogram_openid')?.external_id;
        if (!openid) throw new AppError('UNPROCESSABLE', 'method: this account has no WeChat openid to pay to', [{ field: 'method', message: 'no openid' }]);
        payoutAccount = openid;
      }
      const { risk, reviews } = opts;
      await risk?.warm();
      const gate = risk
        ? async (tx: Tx, withdrawalId: string) => {
            const d = await risk.assess({ action: 'withdrawal', ...gateInputOf(request), account: { type: 'agent', id: agent.id }, agentId: agent.id, amountFen: b.amount_fen });
            const verdict = refuseUnlessPassed(d);
            if (verdict === 'review') await reviews?.open(tx, { subjectType: 'withdrawal', subjectId: withdrawalId, decisionId: d.decision_id });
            return verdict;
          }
        : undefined;
      const done = await opts.withdrawals.request({ agentId: agent.id, amountFen: b.amount_fen, method: b.method, payoutAccount, idempotencyKey: `mp:${request.headers['idempotency-key']}`, ip: request.ip, gate });
      return reply.code(done.statusCode).send(done.withdrawal);
    },
  );
}
