import { and, desc, eq } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx, Tx } from '../../db/client.js';
import { pageFilter } from '../../db/paging.js';
import { queryRows } from '../../db/raw.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import type { AgentService } from '../agents/service.js';
import type { AuditService } from '../audit/service.js';
import type { LedgerService } from '../ledger/service.js';
import { accounts, type Posting } from '../ledger/accounts.js';
import { createIdempotency } from '../orders/idempotency.js';
import { approvalsNeeded, canMove, checkDailyLimits, chinaDayStart, maskPayoutAccount, normalisePayoutAccount, quoteWithdrawal, type FeeRule, type WithdrawalLimits, type WithdrawalMethod, type WithdrawalStatus } from './fees.js';
import { buildStatement, statementPeriod, type Statement, type StatementEntryRow } from './statement.js';
import { withdrawals } from './schema.js';

export interface WithdrawalView {
  id: string;
  agent_id: string;
  amount_fen: number;
  fee_fen: number;
  net_fen: number;
  method: string;
  payout_account: string;
  status: string;
  payout_reference: string | null;
  reject_reason: string | null;
  /** 2 at or above the dual-approval amount */
  approvals_needed: number;
  first_approved_by: string | null;
  first_approved_at: string | null;
  approved_by: string | null;
  approved_at: string | null;
  paid_by: string | null;
  paid_at: string | null;
  rejected_by: string | null;
  rejected_at: string | null;
  /** Held by the risk gate: finance cannot approve it until risk staff release it. */
  risk_hold: boolean;
  created_at: string;
}

export interface StaffActor {
  id: string;
  ip?: string;
}

/**
 * Agents withdraw their available commission. The money moves in the ledger
 * with each step, in the same transaction as the row and its audit entry:
 * request (commission_available -> withdrawals_pending), pay
 * (withdrawals_pending -> cash paid out + fee income) or reject
 * (withdrawals_pending -> back to commission_available).
 *
 * Controls: at or above `limits.dualApprovalFen` two different finance staff
 * approve (requested -> awaiting_second_approval -> approved); whoever
 * approved may not also record the payment; an agent may request at most
 * `dailyCount` withdrawals and `dailyLimitFen` a China Standard Time day
 * (rejected ones not counted); a frozen agent's withdrawals can be rejected
 * but not approved or paid.
 */
export const defaultWithdrawalLimits: WithdrawalLimits = { dualApprovalFen: 500_000, dailyLimitFen: 5_000_000, dailyCount: 3 };

export function createWithdrawalService(p: Platform, deps: { ledger: LedgerService; agents: AgentService; audit: AuditService }, rule: FeeRule, limits: WithdrawalLimits = defaultWithdrawalLimits) {
  const idempotency = createIdempotency(p);
  const aad = (id: string) => `withdrawal:${id}`;

  /**
   * `gate` is the risk gate, asked after the key is claimed (a replay is not assessed again) and before anything is
   * written; it throws to refuse (nothing stays written), and `review` creates the withdrawal with risk_hold. It gets
   * the transaction and the new id so it can open its review with the withdrawal.
   */
  async function request(input: { agentId: string; amountFen: number; method: WithdrawalMethod; payoutAccount: string; idempotencyKey: string; apiKeyId?: string; ip?: string; gate?: (tx: Tx, withdrawalId: string) => Promise<'allow' | 'review'> }): Promise<{ statusCode: 200 | 201; withdrawal: WithdrawalView }> {
    const { feeFen } = quoteWithdrawal(input.amountFen, rule);
    const account = normalisePayoutAccount(input.method, input.payoutAccount);
    const id = newId('wdr', p.clock.now());
    const scope = `agent:${input.agentId}:withdrawals`;
    const fingerprint = { amount_fen: input.amountFen, method: input.method, payout_account: account };
    const done = await p.db.transaction(async (tx) => {
      const prior = await idempotency.claim(tx, scope, input.idempotencyKey, fingerprint, { statusCode: 201, body: { withdrawal_id: id } });
      if (prior) return { statusCode: 200 as const, id: (prior.body as { withdrawal_id: string }).withdrawal_id };
      const agent = await deps.agents.get(input.agentId, tx);
      if (agent.status !== 'active') throw new AppError('FORBIDDEN', `agent ${agent.id} is ${agent.status}: withdrawals are suspended while an agent is not active`, { code: 'AGENT_NOT_ACTIVE', status: agent.status });
      const riskHold = input.gate ? (await input.gate(tx, id)) === 'review' : false;
      // One request per agent at a time past this point, so two at once cannot both fit under the day's limits.
      await queryRows(tx, 'select pg_advisory_xact_lock(hashtextextended($1, 0))', [`withdrawals:${input.agentId}`]);
      const available = accounts.commissionAvailable(input.agentId);
      const availableFen = await deps.ledger.balance(available.id, tx);
      if (availableFen < input.amountFen) throw insufficient(availableFen);
      const [day] = await queryRows<{ n: number; s: string }>(
        tx,
        `select count(*)::int as n, coalesce(sum(amount_fen), 0)::text as s from withdrawals where agent_id = $1 and status <> 'rejected' and created_at >= $2::timestamptz`,
        [input.agentId, chinaDayStart(p.clock.now()).toISOString()],
      );
      const overLimit = checkDailyLimits(input.amountFen, { count: Number(day?.n ?? 0), amountFen: Number(day?.s ?? 0) }, limits);
      if (overLimit) throw overLimit;
      const sealed = p.keyRing.wrap(Buffer.from(account), aad(id));
      await tx.insert(withdrawals).values({ id, agentId: input.agentId, amountFen: input.amountFen, feeFen, method: input.method, payoutSealed: sealed.sealed, payoutKeyId: sealed.keyId, payoutMasked: maskPayoutAccount(account), status: 'requested', requestedBy: input.apiKeyId ?? null, riskHold, createdAt: p.clock.now() });
      try {
        // The balance read above is a courtesy; this CHECK-guarded posting is what stops two requests at once from overdrawing.
        await deps.ledger.post(tx, { kind: 'withdrawal_requested', refType: 'withdrawal', refId: id, postings: [{ account: available, amountFen: -input.amountFen }, { account: accounts.withdrawalsPending, amountFen: input.amountFen }] });
      } catch (err) {
        if (err instanceof AppError && (err.details as { code?: string } | null)?.code === 'INSUFFICIENT_FUNDS') throw insufficient(null);
        throw err;
      }
      await deps.audit.record({ actorType: 'agent', actorId: input.agentId, action: 'withdrawal.requested', targetType: 'withdrawal', targetId: id, ip: input.ip ?? null, details: { amount_fen: input.amountFen, fee_fen: feeFen, method: input.method, api_key: input.apiKeyId ?? null, risk_hold: riskHold } }, tx);
      return { statusCode: 201 as const, id };
    });
    return { statusCode: done.statusCode, withdrawal: await get(done.id) };
  }

  async function get(id: string, db: DbOrTx = p.db): Promise<WithdrawalView> {
    const [row] = await db.select().from(withdrawals).where(eq(withdrawals.id, id));
    if (!row) throw notFound('withdrawal', id);
    return toView(row, limits);
  }

  async function list(q: { limit: number; cursor?: string; status?: WithdrawalStatus; agentId?: string }): Promise<PageResult<WithdrawalView>> {
    const rows = await p.db
      .select()
      .from(withdrawals)
      .where(pageFilter(withdrawals.id, q.cursor, q.status ? eq(withdrawals.status, q.status) : undefined, q.agentId ? eq(withdrawals.agentId, q.agentId) : undefined))
      .orderBy(desc(withdrawals.id))
      .limit(q.limit + 1);
    return toPage(rows.map((r) => toView(r, limits)), q.limit);
  }

  /**
   * One transition: the row is locked, the move checked (a second click finds it already moved: 409), money and audit in the same transaction.
   * An approval of an amount that needs two approvers and has none yet only records the first one (awaiting_second_approval).
   */
  async function move(id: string, asked: 'approved' | 'paid' | 'rejected', actor: StaffActor, extra: { reference?: string; reason?: string } = {}): Promise<WithdrawalView> {
    return p.db.transaction((tx) => moveIn(tx, id, asked, actor, extra));
  }

  async function moveIn(tx: Tx, id: string, asked: 'approved' | 'paid' | 'rejected', actor: StaffActor, extra: { reference?: string; reason?: string } = {}): Promise<WithdrawalView> {
    {
      const [row] = await tx.select().from(withdrawals).where(eq(withdrawals.id, id)).for('update');
      if (!row) throw notFound('withdrawal', id);
      if (asked === 'approved' && row.riskHold) throw new AppError('RISK_REVIEW_PENDING', `withdrawal ${id} is held for a risk review; it can be approved once risk staff release it`, { status: row.status });
      if (asked === 'approved' && row.status === 'awaiting_second_approval' && row.firstApprovedBy === actor.id) {
        throw new AppError('CONFLICT', `withdrawal ${id}: you already gave the first approval; a second, different finance staff member must approve it`, { status: row.status, code: 'SAME_APPROVER' });
      }
      const to: WithdrawalStatus = asked === 'approved' && row.status === 'requested' && approvalsNeeded(row.amountFen, limits.dualApprovalFen) === 2 ? 'awaiting_second_approval' : asked;
      if (!canMove(row.status, to)) throw new AppError('CONFLICT', `withdrawal ${id} is ${row.status}; it cannot become ${asked}`, { status: row.status });
      if (to !== 'rejected') {
        // A frozen agent's money stays where it is until staff review it; rejecting (money back to the agent) stays possible.
        const agent = await deps.agents.get(row.agentId, tx);
        if (agent.status !== 'active') throw new AppError('FORBIDDEN', `agent ${agent.id} is ${agent.status}: its withdrawals cannot be approved or paid while it is not active`, { code: 'AGENT_NOT_ACTIVE', status: agent.status });
      }
      if (to === 'paid' && (row.approvedBy === actor.id || row.firstApprovedBy === actor.id)) {
        throw new AppError('FORBIDDEN', `withdrawal ${id}: you approved it, so another finance staff member must record the payment (separation of duties)`, { code: 'APPROVER_CANNOT_PAY' });
      }
      const now = p.clock.now();
      const set =
        to === 'awaiting_second_approval'
          ? { status: to, firstApprovedBy: actor.id, firstApprovedAt: now }
          : to === 'approved'
          ? { status: to, approvedBy: actor.id, approvedAt: now }
          : to === 'paid'
            ? { status: to, paidBy: actor.id, paidAt: now, payoutReference: extra.reference ?? null }
            : { status: to, rejectedBy: actor.id, rejectedAt: now, rejectReason: extra.reason ?? null };
      const [updated] = await tx
        .update(withdrawals)
        .set(set)
        .where(and(eq(withdrawals.id, id), eq(withdrawals.status, row.status)))
        .returning();
      if (to === 'paid') {
        const postings: Posting[] = [
          { account: accounts.withdrawalsPending, amountFen: -row.amountFen },
          { account: accounts.cash, amountFen: row.amountFen - row.feeFen },
        ];
        if (row.feeFen > 0) postings.push({ account: accounts.withdrawalFees, amountFen: row.feeFen });
        await deps.ledger.post(tx, { kind: 'withdrawal_paid', refType: 'withdrawal', refId: id, memo: extra.reference, postings });
      } else if (to === 'rejected') {
        await deps.ledger.post(tx, {
          kind: 'withdrawal_rejected',
          refType: 'withdrawal',
          refId: id,
          postings: [
            { account: accounts.withdrawalsPending, amountFen: -row.amountFen },
            { account: accounts.commissionAvailable(row.agentId), amountFen: row.amountFen },
          ],
        });
      }
      await deps.audit.record(
        { actorType: 'staff', actorId: actor.id, action: to === 'awaiting_second_approval' ? 'withdrawal.first_approval' : `withdrawal.${to}`, targetType: 'withdrawal', targetId: id, ip: actor.ip ?? null, details: { agent_id: row.agentId, amount_fen: row.amountFen, fee_fen: row.feeFen, from: row.status, reference: extra.reference ?? null, reason: extra.reason ?? null } },
        tx,
      );
      return toView(updated!, limits);
    }
  }

  /** Risk staff released a held withdrawal (their transaction): finance may approve it now. */
  async function releaseRiskHold(tx: Tx, id: string): Promise<void> {
    const [row] = await tx.update(withdrawals).set({ riskHold: false }).where(eq(withdrawals.id, id)).returning({ id: withdrawals.id });
    if (!row) throw notFound('withdrawal', id);
  }

  /** Risk staff rejected a held withdrawal: rejected like finance would (money back to the agent), in their transaction. */
  async function rejectHeld(tx: Tx, id: string, reason: string, actor: StaffActor): Promise<void> {
    await moveIn(tx, id, 'rejected', actor, { reason: `risk review: ${reason}`.slice(0, 500) });
    await tx.update(withdrawals).set({ riskHold: false }).where(eq(withdrawals.id, id));
  }

  /** An agent's paid withdrawals: gross amount (fee included) and fees. */
  async function paidTotals(agentId: string): Promise<{ amountFen: number; feeFen: number }> {
    const [withdrawn] = await queryRows<{ amount: string | null; fee: string | null }>(p.db, `select sum(amount_fen)::text as amount, sum(fee_fen)::text as fee from withdrawals where agent_id = $1 and status = 'paid'`, [agentId]);
    return { amountFen: Number(withdrawn?.amount ?? 0), feeFen: Number(withdrawn?.fee ?? 0) };
  }

  /** The clear payout account, for finance to make the transfer; audited. */
  async function revealPayoutAccount(id: string, actor: StaffActor): Promise<{ id: string; method: string; payout_account: string }> {
    return p.db.transaction(async (tx) => {
      const [row] = await tx.select().from(withdrawals).where(eq(withdrawals.id, id));
      if (!row) throw notFound('withdrawal', id);
      const clear = p.keyRing.unwrap(row.payoutKeyId, row.payoutSealed, aad(id)).toString();
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'withdrawal.payout_account_revealed', targetType: 'withdrawal', targetId: id, ip: actor.ip ?? null, details: { agent_id: row.agentId } }, tx);
      return { id, method: row.method, payout_account: clear };
    });
  }

  /** The agent's accounts (prepaid balance, pending and available commission) over whole days from..to, UTC+8. */
  async function statement(agentId: string, from: string, to: string): Promise<Statement> {
    const { start, end } = statementPeriod(from, to);
    await deps.agents.get(agentId);
    const specs = [accounts.agentBalance(agentId), accounts.commissionPending(agentId), accounts.commissionAvailable(agentId)];
    const ids = specs.map((s) => s.id);
    // One read-only transaction: the openings and the entries see the same ledger.
    return p.db.transaction(async (tx) => {
      const openings = await queryRows<{ account_id: string; s: string }>(tx, 'select account_id, sum(amount_fen)::text as s from ledger_entries where account_id = any($1::text[]) and created_at < $2::timestamptz group by account_id', [ids, start.toISOString()]);
      const rows = await queryRows<{ id: string; account_id: string; amount_fen: string; at_ms: string; transaction_id: string; kind: string; ref_type: string | null; ref_id: string | null; memo: string | null }>(
        tx,
        `select e.id::text as id, e.account_id, e.amount_fen::text as amount_fen, floor(extract(epoch from e.created_at) * 1000)::bigint::text as at_ms,
                t.id as transaction_id, t.kind, t.ref_type, t.ref_id, t.memo
         from ledger_entries e join ledger_transactions t on t.id = e.transaction_id
         where e.account_id = any($1::text[]) and e.created_at >= $2::timestamptz and e.created_at < $3::timestamptz
         order by e.id`,
        [ids, start.toISOString(), end.toISOString()],
      );
      const entryRows: StatementEntryRow[] = rows.map((r) => ({ entryId: Number(r.id), at: new Date(Number(r.at_ms)), accountId: r.account_id, amountFen: Number(r.amount_fen), transactionId: r.transaction_id, kind: r.kind, refType: r.ref_type, refId: r.ref_id, memo: r.memo }));
      return buildStatement({ agentId, from, to, generatedAt: p.clock.now(), accounts: specs.map((s) => ({ id: s.id, kind: s.kind })), openings: Object.fromEntries(openings.map((o) => [o.account_id, Number(o.s)])), rows: entryRows });
    });
  }

  return { request, get, list, approve: (id: string, actor: StaffActor) => move(id, 'approved', actor), pay: (id: string, actor: StaffActor, reference: string) => move(id, 'paid', actor, { reference }), reject: (id: string, actor: StaffActor, reason: string) => move(id, 'rejected', actor, { reason }), releaseRiskHold, rejectHeld, revealPayoutAccount, statement, paidTotals, rule, limits };
}

function insufficient(availableFen: number | null): AppError {
  return new AppError('UNPROCESSABLE', 'amount_fen: more than the available commission', { code: 'INSUFFICIENT_FUNDS', field: 'amount_fen', ...(availableFen === null ? {} : { available_fen: availableFen }) });
}

function toView(r: typeof withdrawals.$inferSelect, limits: WithdrawalLimits): WithdrawalView {
  return {
    id: r.id,
    agent_id: r.agentId,
    amount_fen: r.amountFen,
    fee_fen: r.feeFen,
    net_fen: r.amountFen - r.feeFen,
    method: r.method,
    payout_account: r.payoutMasked,
    status: r.status,
    payout_reference: r.payoutReference,
    reject_reason: r.rejectReason,
    approvals_needed: approvalsNeeded(r.amountFen, limits.dualApprovalFen),
    first_approved_by: r.firstApprovedBy,
    first_approved_at: r.firstApprovedAt?.toISOString() ?? null,
    approved_by: r.approvedBy,
    approved_at: r.approvedAt?.toISOString() ?? null,
    paid_by: r.paidBy,
    paid_at: r.paidAt?.toISOString() ?? null,
    rejected_by: r.rejectedBy,
    rejected_at: r.rejectedAt?.toISOString() ?? null,
    risk_hold: r.riskHold,
    created_at: r.createdAt.toISOString(),
  };
}

export type WithdrawalService = ReturnType<typeof createWithdrawalService>;
