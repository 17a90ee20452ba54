import { and, desc, eq } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx, Tx } from '../../db/client.js';
import { pageFilter } from '../../db/paging.js';
import { AppError, invalidField, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import type { AlertService } from '../alerts/service.js';
import type { CustomerService, Identity } from '../customers/service.js';
import { normalizePhone, phoneHash, sealPhone } from '../customers/phone.js';
import { createIdempotency } from '../orders/idempotency.js';
import { agentApplications, agents, type ApplicationFlags } from './schema.js';
import { pgErrorCode } from './bindings.js';
import type { AgentRole, AgentService, AgentView } from './service.js';

/**
 * Joining under an upline through its invitation link (/join/<code>) or
 * referral code: a public application, approved by the upline (signed agent
 * API) or by staff, or at once with AGENT_JOIN_AUTO_APPROVE. Approval creates
 * the agent under the upline in the same transaction as the decision and its
 * audit entry; a frozen upline cannot approve.
 *
 * Self-referral check, at application and again at approval: the applicant's
 * phone hash, IP and device id are compared with what the platform knows of
 * the upline (its own application, when it joined this way, the phone of its
 * linked customer, and its IP when it approves). A match flags the application and raises an
 * 'agent.self_referral' alert naming the signals (never the phone); approval
 * stays possible, the flag shows in the lists.
 */
export const applicationStatuses = ['pending', 'approved', 'rejected'] as const;
export type ApplicationStatus = (typeof applicationStatuses)[number];
export type SelfReferralSignal = 'phone' | 'ip' | 'device';

export type Decider = { type: 'agent'; id: string; ip?: string } | { type: 'staff'; id: string; ip?: string } | { type: 'system' };

export interface ApplicationView {
  id: string;
  upline_id: string;
  name: string;
  /** masked, e.g. 138****1234 */
  phone: string;
  identity: { provider: string; external_id: string } | null;
  status: string;
  decided_by: string | null;
  decided_at: string | null;
  reason: string | null;
  agent_id: string | null;
  self_referral: boolean;
  flags: ApplicationFlags;
  created_at: string;
}

/** What staff see besides: where the application came from. */
export interface StaffApplicationView extends ApplicationView {
  ip: string | null;
  device_id: string | null;
}

type Row = typeof agentApplications.$inferSelect;

export interface JoinSettings {
  autoApprove: boolean;
}

const deciderName = (d: Decider) => (d.type === 'system' ? 'system' : `${d.type}:${d.id}`);
/** A distributor's recruits are sub-agents; below that, group leaders. */
const defaultRoleUnder = (upline: { role: string }): AgentRole => (upline.role === 'distributor' ? 'sub_agent' : 'group_leader');

export function createAgentJoinService(
  p: Platform,
  deps: { agents: AgentService; customers: Pick<CustomerService, 'resolve' | 'phoneHashOf'>; alerts: Pick<AlertService, 'raise'>; audit: AuditService },
  settings: JoinSettings,
) {
  const idempotency = createIdempotency(p);

  /** The invitation behind a link: who invites. Unknown and frozen codes are both simply not found. */
  async function invitation(referralCode: string): Promise<{ referral_code: string; upline_name: string }> {
    const upline = await deps.agents.byReferralCode(referralCode);
    if (!upline || upline.status !== 'active') throw new AppError('NOT_FOUND', 'referral_code: no active agent has this code', [{ field: 'referral_code', message: 'unknown code' }]);
    return { referral_code: upline.referral_code, upline_name: upline.name };
  }

  /**
   * A new application under the owner of the referral code. One pending
   * application per phone and upline (409). With an Idempotency-Key a retry
   * answers the same application (scoped by phone, so nobody else's).
   */
  async function apply(input: { referralCode: string; name: string; phone: string; identity?: Identity; ip?: string; deviceId?: string; idempotencyKey?: string }): Promise<{ statusCode: 200 | 201; application: ApplicationView }> {
    const phone = normalizePhone(input.phone);
    if (!phone) throw invalidField('phone', 'not a phone number (7-15 digits, optionally with a leading +)');
    const name = input.name.trim();
    if (!name) throw invalidField('name', 'must not be blank');
    const upline = await deps.agents.byReferralCode(input.referralCode);
    if (!upline || upline.status !== 'active') throw new AppError('NOT_FOUND', 'referral_code: no active agent has this code', [{ field: 'referral_code', message: 'unknown code' }]);
    // Outside the transaction: the customer service runs its own (and the embedded database has one connection).
    const customerId = settings.autoApprove && input.identity ? (await deps.customers.resolve({ identity: input.identity, displayName: name })).customerId : undefined;
    const hash = phoneHash(p, phone);
    const id = newId('apl', p.clock.now());
    try {
      const doneId = await p.db.transaction(async (tx) => {
        if (input.idempotencyKey) {
          const fingerprint = { referral_code: upline.referral_code, name, phone_hash: hash, identity: input.identity ?? null };
          const prior = await idempotency.claim(tx, `join:${hash}`, input.idempotencyKey, fingerprint, { statusCode: 201, body: { application_id: id } });
          if (prior) return { prior: true, id: (prior.body as { application_id: string }).application_id };
        }
        const [pending] = await tx
          .select({ id: agentApplications.id })
          .from(agentApplications)
          .where(and(eq(agentApplications.uplineId, upline.id), eq(agentApplications.phoneHash, hash), eq(agentApplications.status, 'pending')));
        if (pending) throw pendingConflict();
        const sealed = sealPhone(p, phone, `agent_application:${id}`);
        const deviceId = input.deviceId?.trim().slice(0, 128) || null;
        const [row] = await tx
          .insert(agentApplications)
          .values({
            id,
            uplineId: upline.id,
            name,
            phoneSealed: sealed.sealed,
            phoneKeyId: sealed.keyId,
            phoneHash: sealed.hash,
            phoneMasked: sealed.masked,
            identityProvider: input.identity?.provider ?? null,
            identityExternalId: input.identity?.externalId ?? null,
            ip: input.ip ?? null,
            deviceId,
            status: 'pending',
            flags: {},
            createdAt: p.clock.now(),
          })
          .returning();
        await checkSelfReferral(tx, row!, 'application');
        if (settings.autoApprove) await approveLocked(tx, (await lock(tx, id))!, { type: 'system' }, { customerId });
        return { prior: false, id };
      });
      return { statusCode: doneId.prior ? 200 : 201, application: toView(await getRow(doneId.id)) };
    } catch (err) {
      // Two applications at once: the partial unique index decides.
      if (pgErrorCode(err) === '23505') throw pendingConflict();
      throw err;
    }
  }

  const pendingConflict = () => new AppError('CONFLICT', 'phone: this phone already has an application waiting for this agent', [{ field: 'phone', message: 'application already pending' }]);

  async function getRow(id: string, db: DbOrTx = p.db): Promise<Row> {
    const [row] = await db.select().from(agentApplications).where(eq(agentApplications.id, id));
    if (!row) throw notFound('application', id);
    return row;
  }

  const lock = async (tx: Tx, id: string) => (await tx.select().from(agentApplications).where(eq(agentApplications.id, id)).for('update'))[0];

  /** Compares the applicant with its upline's known signals; a match flags the application and raises (or refreshes) the alert. */
  async function checkSelfReferral(tx: Tx, row: Row, stage: 'application' | 'approval', uplineNow: { ip?: string } = {}): Promise<ApplicationFlags> {
    const [upline] = await tx.select({ id: agents.id, customerId: agents.customerId }).from(agents).where(eq(agents.id, row.uplineId));
    const [own] = await tx
      .select({ phoneHash: agentApplications.phoneHash, ip: agentApplications.ip, deviceId: agentApplications.deviceId })
      .from(agentApplications)
      .where(eq(agentApplications.agentId, row.uplineId))
      .limit(1);
    const customerPhoneHash = upline?.customerId ? await deps.customers.phoneHashOf(upline.customerId, tx) : null;
    const signals: SelfReferralSignal[] = [];
    if (row.phoneHash === own?.phoneHash || row.phoneHash === customerPhoneHash) signals.push('phone');
    // The upline's address when it approves is one of its signals too.
    if (row.ip && (row.ip === own?.ip || row.ip === uplineNow.ip)) signals.push('ip');
    if (row.deviceId && row.deviceId === own?.deviceId) signals.push('device');
    const known = row.flags.self_referral?.signals ?? [];
    if (signals.length === 0) return row.flags;
    const merged = [...new Set([...known, ...signals])].sort() as SelfReferralSignal[];
    const flags: ApplicationFlags = { ...row.flags, self_referral: { signals: merged, stage: known.length ? (row.flags.self_referral?.stage ?? stage) : stage } };
    await tx.update(agentApplications).set({ flags }).where(eq(agentApplications.id, row.id));
    await deps.alerts.raise(
      {
        kind: 'agent.self_referral',
        subjectType: 'agent_application',
        subjectId: row.id,
        severity: 'warning',
        message: `possible self-referral: application ${row.id} to join under agent ${row.uplineId} shares ${signals.join(', ')} with the upline (checked at ${stage})`,
        details: { application_id: row.id, upline_id: row.uplineId, signals: merged, matched_now: signals, stage },
      },
      tx,
    );
    return flags;
  }

  /** The decision on a locked pending application: the agent under the upline, the row, the audit entry. */
  async function approveLocked(tx: Tx, row: Row, by: Decider, opts: { role?: AgentRole; customerId?: string }): Promise<AgentView> {
    if (row.status !== 'pending') throw new AppError('CONFLICT', `application ${row.id} is ${row.status}`, { status: row.status });
    const [upline] = await tx.select().from(agents).where(eq(agents.id, row.uplineId)).for('update');
    if (!upline || upline.status !== 'active') throw new AppError('FORBIDDEN', 'the upline agent is frozen: it cannot take new agents', { code: 'AGENT_NOT_ACTIVE', status: upline?.status ?? null });
    const flags = await checkSelfReferral(tx, row, 'approval', by.type === 'agent' ? { ip: by.ip } : {});
    const agent = await deps.agents.create({ name: row.name, role: opts.role ?? defaultRoleUnder(upline), parentId: upline.id, customerId: opts.customerId }, tx);
    await tx.update(agentApplications).set({ status: 'approved', decidedBy: deciderName(by), decidedAt: p.clock.now(), agentId: agent.id }).where(eq(agentApplications.id, row.id));
    await deps.audit.record(
      {
        actorType: by.type,
        actorId: by.type === 'system' ? null : by.id,
        action: 'agent.application.approve',
        targetType: 'agent_application',
        targetId: row.id,
        ip: by.type === 'system' ? null : (by.ip ?? null),
        details: { agent_id: agent.id, upline_id: upline.id, role: agent.role, self_referral: flags.self_referral?.signals ?? [], auto: by.type === 'system' },
      },
      tx,
    );
    return agent;
  }

  /** The application as its decider may see it: an agent only its own applicants (anyone else's is not found). */
  async function lockFor(tx: Tx, id: string, by: Decider): Promise<Row> {
    const row = await lock(tx, id);
    if (!row || (by.type === 'agent' && row.uplineId !== by.id)) throw notFound('application', id);
    return row;
  }

  async function approve(id: string, by: Decider, opts: { role?: AgentRole } = {}): Promise<{ application: ApplicationView; agent: AgentView }> {
    // The applicant's chat identity becomes the new agent's customer account (resolved first: it runs its own transaction).
    const before = await getRow(id);
    if (by.type === 'agent' && before.uplineId !== by.id) throw notFound('application', id);
    const customerId =
      before.status === 'pending' && before.identityProvider && before.identityExternalId
        ? (await deps.customers.resolve({ identity: { provider: before.identityProvider as Identity['provider'], externalId: before.identityExternalId }, displayName: before.name })).customerId
        : undefined;
    const agent = await p.db.transaction(async (tx) => approveLocked(tx, await lockFor(tx, id, by), by, { role: opts.role, customerId }));
    return { application: toView(await getRow(id)), agent };
  }

  async function reject(id: string, reason: string, by: Decider): Promise<ApplicationView> {
    await p.db.transaction(async (tx) => {
      const row = await lockFor(tx, id, by);
      if (row.status !== 'pending') throw new AppError('CONFLICT', `application ${row.id} is ${row.status}`, { status: row.status });
      await tx.update(agentApplications).set({ status: 'rejected', decidedBy: deciderName(by), decidedAt: p.clock.now(), reason }).where(eq(agentApplications.id, id));
      await deps.audit.record(
        { actorType: by.type, actorId: by.type === 'system' ? null : by.id, action: 'agent.application.reject', targetType: 'agent_application', targetId: id, ip: by.type === 'system' ? null : (by.ip ?? null), details: { upline_id: row.uplineId, reason } },
        tx,
      );
    });
    return toView(await getRow(id));
  }

  async function listRows(q: { limit: number; cursor?: string; uplineId?: string; status?: ApplicationStatus }): Promise<PageResult<Row>> {
    const rows = await p.db
      .select()
      .from(agentApplications)
      .where(pageFilter(agentApplications.id, q.cursor, q.uplineId ? eq(agentApplications.uplineId, q.uplineId) : undefined, q.status ? eq(agentApplications.status, q.status) : undefined))
      .orderBy(desc(agentApplications.id))
      .limit(q.limit + 1);
    return toPage(rows, q.limit);
  }

  /** An upline's applicants, newest first. */
  async function listForUpline(uplineId: string, q: { limit: number; cursor?: string; status?: ApplicationStatus }): Promise<PageResult<ApplicationView>> {
    const page = await listRows({ ...q, uplineId });
    return { ...page, data: page.data.map(toView) };
  }

  /** Every application (or one upline's), newest first, with where it came from. */
  async function listForStaff(q: { limit: number; cursor?: string; uplineId?: string; status?: ApplicationStatus }): Promise<PageResult<StaffApplicationView>> {
    const page = await listRows(q);
    return { ...page, data: page.data.map(toStaffView) };
  }

  return { invitation, apply, approve, reject, listForUpline, listForStaff, get: async (id: string) => toStaffView(await getRow(id)) };
}

function toView(r: Row): ApplicationView {
  return {
    id: r.id,
    upline_id: r.uplineId,
    name: r.name,
    phone: r.phoneMasked,
    identity: r.identityProvider && r.identityExternalId ? { provider: r.identityProvider, external_id: r.identityExternalId } : null,
    status: r.status,
    decided_by: r.decidedBy,
    decided_at: r.decidedAt?.toISOString() ?? null,
    reason: r.reason,
    agent_id: r.agentId,
    self_referral: Boolean(r.flags.self_referral?.signals.length),
    flags: r.flags,
    created_at: r.createdAt.toISOString(),
  };
}

function toStaffView(r: Row): StaffApplicationView {
  return { ...toView(r), ip: r.ip, device_id: r.deviceId };
}

export type AgentJoinService = ReturnType<typeof createAgentJoinService>;
