import { and, asc, desc, eq, inArray, isNull, type SQL } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import { pageFilter } from '../../db/paging.js';
import { AppError, notFound, type FieldIssue } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import type { RiskAction, RiskFeatures } from './features.js';
import { compile, decide, orderRules, validateCondition, type Condition, type Rule, type RuleAction, type RuleMatch, type RuleMode } from './risk-rules.js';
import { BlockLists, normaliseIp, normaliseListValue, subnetOf, type ListType } from './lists.js';
import { memoryVelocity, redisVelocity, type FailureDims, type VelocityCounters } from './velocity.js';
import { createCaptcha, type CaptchaCheck } from './captcha.js';
import { createWriteBuffer } from './write-buffer.js';
import { ruleTemplates } from './templates.js';
import { riskDecisions, riskDeviceLinks, riskDevices, riskListEntries, riskRules, riskRuleVersions } from './schema.js';
import { ruleView, entryView, decisionView, linkView, type RuleView, type ListEntryView, type DecisionView } from './views.js';

export type AccountType = 'customer' | 'agent' | 'staff';

/** What a channel knows about one attempt. */
export interface AssessInput {
  action: RiskAction;
  account?: { type: AccountType; id: string; createdAt?: Date };
  ip: string;
  deviceId?: string;
  /** What the client reports about its device (platform, language, screen, bot user's language...). Stored, not trusted. */
  deviceSignals?: Record<string, string | number | boolean>;
  phoneHash?: string;
  openid?: string;
  telegramId?: string;
  amountFen?: number;
  couponValueFen?: number;
  skuId?: string;
  agentId?: string;
  priorOrders?: number;
  /** The ALTCHA payload of a retry (the X-Captcha header); satisfies a `challenge`, never a block or review. */
  captcha?: string;
}

export interface RiskDecision {
  decision_id: string;
  action: RuleAction;
  reasons: RuleMatch[];
  shadow_matches: RuleMatch[];
  score?: number;
  /** Set when a captcha came with the attempt and a challenge rule matched. */
  captcha?: CaptchaCheck;
}

export interface StaffActor {
  id: string;
  ip?: string;
}

export interface RuleInput {
  name: string;
  description?: string;
  action: RuleAction;
  mode: RuleMode;
  condition: unknown;
  appliesTo: RiskAction[];
  enabled?: boolean;
}

export interface RiskOptions {
  captchaHmacKey: string;
  captchaTtlSeconds: number;
  captchaMaxNumber: number;
  /** Decision-log and device-table batches (write-buffer.ts). */
  flushIntervalMs?: number;
  flushMaxRows?: number;
}

const VERSION_KEY = 'risk:version';
/** How often an instance asks the key-value store whether rules or lists changed elsewhere. */
const REFRESH_MS = 1000;
const SHANGHAI_OFFSET_H = 8;

/**
 * The risk gate: every order, coupon claim, redemption-code attempt, login and
 * withdrawal asks `assess` first. Rules and block lists live in the database
 * and are held in memory, reloaded when their version (in the key-value store,
 * so every instance agrees within about a second) changes.
 */
export function createRiskService(p: Platform, deps: { audit: AuditService; score?: (f: RiskFeatures) => number | undefined }, o: RiskOptions) {
  const counters: VelocityCounters = p.kv.redis ? redisVelocity(p.kv.redis, `${p.config.redisPrefix}risk:`) : memoryVelocity();
  const captcha = createCaptcha(p.kv, p.clock, { hmacKey: o.captchaHmacKey, ttlMs: o.captchaTtlSeconds * 1000, maxNumber: o.captchaMaxNumber });
  const buffer = createWriteBuffer(p, { intervalMs: o.flushIntervalMs ?? 250, maxRows: o.flushMaxRows ?? 500 });

  let state: { rules: Rule[]; lists: BlockLists; token: string | null } | null = null;
  let checkedAt = 0;
  let loading: Promise<void> | null = null;
  let kvReady = p.kv.kind === 'memory';

  async function load() {
    const token = await p.kv.get(VERSION_KEY);
    const rows = await p.db.select().from(riskRules).where(eq(riskRules.enabled, true)).orderBy(asc(riskRules.id));
    const entries = await p.db.select({ type: riskListEntries.type, value: riskListEntries.value, expiresAt: riskListEntries.expiresAt }).from(riskListEntries);
    state = {
      rules: orderRules(rows.map((r) => ({ id: r.id, name: r.name, version: r.version, action: r.action as RuleAction, mode: r.mode as RuleMode, condition: r.condition as Condition, appliesTo: r.appliesTo as RiskAction[], enabled: r.enabled, test: compile(r.condition as Condition) }))),
      lists: new BlockLists(entries),
      token,
    };
    checkedAt = Date.now();
  }

  /** Loads rules and lists, or reloads them when another instance changed them (checked at most once a second). */
  async function current() {
    if (!kvReady) {
      await p.kv.ping();
      kvReady = true;
    }
    if (state && Date.now() - checkedAt < REFRESH_MS) return state;
    if (!loading) {
      loading = (async () => {
        if (state) {
          const token = await p.kv.get(VERSION_KEY);
          checkedAt = Date.now();
          if (token === state.token) return;
        }
        await load();
      })().finally(() => {
        loading = null;
      });
    }
    await loading;
    return state!;
  }

  /** After a change: this instance reloads at once, the others when they next look at the version. */
  async function changed() {
    await p.kv.del(VERSION_KEY);
    await p.kv.setIfAbsent(VERSION_KEY, newId('rver', p.clock.now()), 365 * 86_400_000);
    // Reloaded in place rather than dropped, so a gate called inside a caller's transaction (orders) never has to read
    // the rules then: on the embedded database that second query would wait for the transaction it runs in.
    await load();
  }

  const accountKey = (a: AssessInput['account']) => (a ? `${a.type}:${a.id}` : undefined);

  async function assess(input: AssessInput): Promise<RiskDecision> {
    const s = await current();
    const at = p.clock.now();
    const now = at.getTime();
    const ip = normaliseIp(input.ip) ?? input.ip;
    const account = accountKey(input.account);
    const amountFen = input.amountFen ?? 0;
    const v = await counters.hit({ action: input.action, ip, subnet: subnetOf(ip), device: input.deviceId, account, agent: input.agentId, sku: input.skuId, amountFen }, now);
    const features: RiskFeatures = {
      action: input.action,
      amountFen,
      couponValueFen: input.couponValueFen ?? 0,
      hourOfDay: (at.getUTCHours() + SHANGHAI_OFFSET_H) % 24,
      accountAgeHours: input.account?.createdAt ? Math.max(0, (now - input.account.createdAt.getTime()) / 3_600_000) : null,
      velocity: v.velocity,
      links: v.links,
      missingDevice: !input.deviceId,
      priorOrders: input.priorOrders ?? 0,
    };
    const score = deps.score?.(features);
    if (score !== undefined) features.score = score;
    const listed = s.lists.match({ ip, deviceId: input.deviceId, phoneHash: input.phoneHash, openid: input.openid, telegramId: input.telegramId, accountId: input.account?.id }, now);
    const verdict = decide(s.rules, { features, listed });
    const out: RiskDecision = { decision_id: newId('rdc', at), action: verdict.action, reasons: verdict.reasons, shadow_matches: verdict.shadow_matches };
    if (score !== undefined) out.score = score;
    if (verdict.action === 'challenge' && input.captcha) {
      out.captcha = await captcha.redeem(input.captcha);
      if (out.captcha === 'passed') out.action = 'allow';
    }

    const ruleVersions: Record<string, number> = {};
    for (const m of [...verdict.reasons, ...verdict.shadow_matches]) ruleVersions[m.rule_id] = m.version;
    buffer.decision({
      id: out.decision_id,
      action: input.action,
      subject: account ?? null,
      ip,
      device: input.deviceId ?? null,
      decision: out.action,
      reasons: out.captcha ? [...out.reasons.map((r) => ({ ...r })), { captcha: out.captcha }] : out.reasons,
      shadowMatches: out.shadow_matches,
      features,
      score: score ?? null,
      ruleVersions,
      createdAt: at,
    });
    if (input.deviceId) {
      buffer.device(input.deviceId, at, input.deviceSignals);
      buffer.link(input.deviceId, 'ip', ip, at);
      if (account) buffer.link(input.deviceId, 'account', account, at);
      if (input.phoneHash) buffer.link(input.deviceId, 'phone_hash', input.phoneHash, at);
    }
    return out;
  }

  /** A failed login or redemption-code attempt: counted against the IP, device and account for the lockout rules, and platform-wide for the action (attack mode). */
  async function recordFailure(dims: { action: 'login' | 'cdk_redeem'; ip?: string; deviceId?: string; account?: AssessInput['account'] }): Promise<void> {
    await current();
    const d: FailureDims = { action: dims.action, ip: dims.ip ? (normaliseIp(dims.ip) ?? dims.ip) : undefined, device: dims.deviceId, account: accountKey(dims.account) };
    await counters.recordFailure(d, p.clock.now().getTime());
  }

  // ---- rules ----

  function checkRule(r: RuleInput): Condition {
    const issues: FieldIssue[] = validateCondition(r.condition);
    if (issues.length) throw new AppError('VALIDATION_FAILED', `${issues[0]!.field}: ${issues[0]!.message}`, issues);
    return r.condition as Condition;
  }

  async function createRule(r: RuleInput, actor: StaffActor | null, template?: string): Promise<RuleView> {
    const condition = checkRule(r);
    const now = p.clock.now();
    const id = newId('rrl', now);
    const row = { id, name: r.name, description: r.description ?? '', action: r.action, mode: r.mode, condition, appliesTo: r.appliesTo, enabled: r.enabled ?? true, version: 1, template: template ?? null, updatedBy: actor?.id ?? null, updatedAt: now, createdAt: now };
    await p.db.transaction(async (tx) => {
      await tx.insert(riskRules).values(row);
      await tx.insert(riskRuleVersions).values({ ruleId: id, version: 1, name: row.name, description: row.description, action: row.action, mode: row.mode, condition, appliesTo: row.appliesTo, enabled: row.enabled, createdBy: actor?.id ?? null, createdAt: now });
      if (actor) await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'risk.rule_created', targetType: 'risk_rule', targetId: id, ip: actor.ip ?? null, details: { name: r.name, action: r.action, mode: r.mode, condition, applies_to: r.appliesTo } }, tx);
    });
    await changed();
    return getRule(id);
  }

  /** Every save is a new version; the old one stays in risk_rule_versions. */
  async function updateRule(id: string, patch: Partial<RuleInput>, actor: StaffActor): Promise<RuleView> {
    await p.db.transaction(async (tx) => {
      const [cur] = await tx.select().from(riskRules).where(eq(riskRules.id, id)).for('update');
      if (!cur) throw notFound('risk rule', id);
      const next = {
        name: patch.name ?? cur.name,
        description: patch.description ?? cur.description,
        action: patch.action ?? (cur.action as RuleAction),
        mode: patch.mode ?? (cur.mode as RuleMode),
        condition: patch.condition !== undefined ? checkRule({ ...(patch as RuleInput), condition: patch.condition }) : (cur.condition as Condition),
        appliesTo: patch.appliesTo ?? (cur.appliesTo as RiskAction[]),
        enabled: patch.enabled ?? cur.enabled,
      };
      const version = cur.version + 1;
      const now = p.clock.now();
      await tx.update(riskRules).set({ ...next, version, updatedBy: actor.id, updatedAt: now }).where(eq(riskRules.id, id));
      await tx.insert(riskRuleVersions).values({ ruleId: id, version, ...next, createdBy: actor.id, createdAt: now });
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: next.enabled ? 'risk.rule_updated' : 'risk.rule_disabled', targetType: 'risk_rule', targetId: id, ip: actor.ip ?? null, details: { version, from_version: cur.version, changed: Object.keys(patch) } }, tx);
    });
    await changed();
    return getRule(id);
  }

  async function getRule(id: string): Promise<RuleView> {
    const [row] = await p.db.select().from(riskRules).where(eq(riskRules.id, id));
    if (!row) throw notFound('risk rule', id);
    return ruleView(row);
  }

  async function listRules(q: { enabled?: boolean } = {}): Promise<RuleView[]> {
    const rows = await p.db.select().from(riskRules).where(q.enabled === undefined ? undefined : eq(riskRules.enabled, q.enabled)).orderBy(asc(riskRules.id));
    return orderRules(rows.map((r) => ({ ...r, action: r.action as RuleAction, mode: r.mode as RuleMode, condition: r.condition as Condition, appliesTo: r.appliesTo as RiskAction[] }))).map(ruleView);
  }

  async function ruleVersions(id: string) {
    await getRule(id);
    const rows = await p.db.select().from(riskRuleVersions).where(eq(riskRuleVersions.ruleId, id)).orderBy(desc(riskRuleVersions.version));
    return rows.map((r) => ({ version: r.version, name: r.name, description: r.description, action: r.action, mode: r.mode, condition: r.condition, applies_to: r.appliesTo, enabled: r.enabled, created_by: r.createdBy, created_at: r.createdAt.toISOString() }));
  }

  /** The built-in rules (templates.ts), each inserted once: safe to call on every start. */
  async function seedTemplates(): Promise<number> {
    const have = new Set((await p.db.select({ t: riskRules.template }).from(riskRules).where(inArray(riskRules.template, ruleTemplates.map((t) => t.template)))).map((r) => r.t));
    let n = 0;
    for (const t of ruleTemplates) {
      if (have.has(t.template)) continue;
      try {
        await createRule({ name: t.name, description: t.description, action: t.action, mode: t.mode, condition: t.condition, appliesTo: t.appliesTo }, null, t.template);
        n++;
      } catch (err) {
        // Another instance seeded it first (unique template).
        if ((err as { code?: string; cause?: { code?: string } }).code !== '23505' && (err as { cause?: { code?: string } }).cause?.code !== '23505') throw err;
      }
    }
    return n;
  }

  // ---- block lists ----

  async function addEntry(e: { type: ListType; value: string; reason?: string; expiresAt?: Date | null }, actor: StaffActor): Promise<ListEntryView> {
    const v = normaliseListValue(e.type, e.value);
    if ('error' in v) throw new AppError('VALIDATION_FAILED', `value: ${v.error}`, [{ field: 'value', message: v.error }]);
    if (e.expiresAt && e.expiresAt.getTime() <= p.clock.now().getTime()) throw new AppError('VALIDATION_FAILED', 'expires_at: must be in the future', [{ field: 'expires_at', message: 'must be in the future' }]);
    const now = p.clock.now();
    const row = { id: newId('rle', now), type: e.type, value: v.value, reason: e.reason ?? '', expiresAt: e.expiresAt ?? null, createdBy: actor.id, createdAt: now };
    await p.db.transaction(async (tx) => {
      await tx.insert(riskListEntries).values(row);
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'risk.list_entry_added', targetType: 'risk_list_entry', targetId: row.id, ip: actor.ip ?? null, details: { type: e.type, value: e.type === 'phone_hash' ? '(hash)' : v.value, reason: row.reason, expires_at: row.expiresAt?.toISOString() ?? null } }, tx);
    });
    await changed();
    return entryView(row);
  }

  async function updateEntry(id: string, patch: { reason?: string; expiresAt?: Date | null }, actor: StaffActor): Promise<ListEntryView> {
    const row = await p.db.transaction(async (tx) => {
      const [updated] = await tx
        .update(riskListEntries)
        .set({ ...(patch.reason !== undefined ? { reason: patch.reason } : {}), ...(patch.expiresAt !== undefined ? { expiresAt: patch.expiresAt } : {}) })
        .where(eq(riskListEntries.id, id))
        .returning();
      if (!updated) throw notFound('risk list entry', id);
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'risk.list_entry_updated', targetType: 'risk_list_entry', targetId: id, ip: actor.ip ?? null, details: { reason: patch.reason, expires_at: patch.expiresAt === undefined ? undefined : (patch.expiresAt?.toISOString() ?? null) } }, tx);
      return updated;
    });
    await changed();
    return entryView(row);
  }

  async function removeEntry(id: string, actor: StaffActor): Promise<void> {
    await p.db.transaction(async (tx) => {
      const [gone] = await tx.delete(riskListEntries).where(eq(riskListEntries.id, id)).returning();
      if (!gone) throw notFound('risk list entry', id);
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'risk.list_entry_removed', targetType: 'risk_list_entry', targetId: id, ip: actor.ip ?? null, details: { type: gone.type, value: gone.type === 'phone_hash' ? '(hash)' : gone.value } }, tx);
    });
    await changed();
  }

  async function getEntry(id: string): Promise<ListEntryView> {
    const [row] = await p.db.select().from(riskListEntries).where(eq(riskListEntries.id, id));
    if (!row) throw notFound('risk list entry', id);
    return entryView(row);
  }

  async function listEntries(q: { limit: number; cursor?: string; type?: ListType }): Promise<PageResult<ListEntryView>> {
    const rows = await p.db
      .select()
      .from(riskListEntries)
      .where(pageFilter(riskListEntries.id, q.cursor, q.type ? eq(riskListEntries.type, q.type) : undefined))
      .orderBy(desc(riskListEntries.id))
      .limit(q.limit + 1);
    return toPage(rows.map(entryView), q.limit);
  }

  // ---- decisions and devices ----

  async function listDecisions(q: { limit: number; cursor?: string; action?: RiskAction; decision?: RuleAction; label?: 'fraud' | 'legit' | 'none'; subject?: string }): Promise<PageResult<DecisionView>> {
    await buffer.flush();
    const filters: (SQL | undefined)[] = [
      q.action ? eq(riskDecisions.action, q.action) : undefined,
      q.decision ? eq(riskDecisions.decision, q.decision) : undefined,
      q.label === 'none' ? isNull(riskDecisions.label) : q.label ? eq(riskDecisions.label, q.label) : undefined,
      q.subject ? eq(riskDecisions.subject, q.subject) : undefined,
    ];
    const rows = await p.db.select().from(riskDecisions).where(pageFilter(riskDecisions.id, q.cursor, ...filters)).orderBy(desc(riskDecisions.id)).limit(q.limit + 1);
    return toPage(rows.map(decisionView), q.limit);
  }

  async function getDecision(id: string): Promise<DecisionView> {
    await buffer.flush();
    const [row] = await p.db.select().from(riskDecisions).where(eq(riskDecisions.id, id));
    if (!row) throw notFound('risk decision', id);
    return decisionView(row);
  }

  /** A person's verdict on a decision: the label that training and backtests learn from. Relabelling is allowed and audited. */
  async function label(id: string, value: 'fraud' | 'legit', actor: StaffActor): Promise<DecisionView> {
    await buffer.flush();
    const row = await p.db.transaction(async (tx) => {
      const [before] = await tx.select({ label: riskDecisions.label }).from(riskDecisions).where(eq(riskDecisions.id, id)).for('update');
      if (!before) throw notFound('risk decision', id);
      const [updated] = await tx.update(riskDecisions).set({ label: value, labelledBy: actor.id, labelledAt: p.clock.now() }).where(eq(riskDecisions.id, id)).returning();
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'risk.decision_labelled', targetType: 'risk_decision', targetId: id, ip: actor.ip ?? null, details: { label: value, previous: before.label } }, tx);
      return updated!;
    });
    return decisionView(row);
  }

  async function device(deviceId: string) {
    await buffer.flush();
    const [d] = await p.db.select().from(riskDevices).where(eq(riskDevices.deviceId, deviceId));
    if (!d) throw notFound('device', deviceId);
    const links = await p.db.select().from(riskDeviceLinks).where(eq(riskDeviceLinks.deviceId, deviceId)).orderBy(desc(riskDeviceLinks.lastSeen));
    const of = (t: string) => links.filter((l) => l.subjectType === t).map(linkView);
    return { device_id: d.deviceId, first_seen: d.firstSeen.toISOString(), last_seen: d.lastSeen.toISOString(), signals: d.signals as Record<string, unknown>, accounts: of('account'), phone_hashes: of('phone_hash'), ips: of('ip') };
  }

  async function accountDevices(type: AccountType, id: string) {
    await buffer.flush();
    const rows = await p.db
      .select({ l: riskDeviceLinks, d: riskDevices })
      .from(riskDeviceLinks)
      .innerJoin(riskDevices, eq(riskDevices.deviceId, riskDeviceLinks.deviceId))
      .where(and(eq(riskDeviceLinks.subjectType, 'account'), eq(riskDeviceLinks.subjectId, `${type}:${id}`)))
      .orderBy(desc(riskDeviceLinks.lastSeen));
    return { account: `${type}:${id}`, devices: rows.map((r) => ({ device_id: r.d.deviceId, first_seen: r.l.firstSeen.toISOString(), last_seen: r.l.lastSeen.toISOString(), hits: r.l.hits, signals: r.d.signals as Record<string, unknown> })) };
  }

  return {
    assess,
    /** Loads rules and lists if this instance has none yet: call before assessing inside a database transaction. */
    warm: async () => void (await current()),
    recordFailure,
    issueCaptcha: captcha.issue,
    createRule: (r: RuleInput, actor: StaffActor) => createRule(r, actor),
    updateRule,
    disableRule: (id: string, actor: StaffActor) => updateRule(id, { enabled: false }, actor),
    getRule,
    listRules,
    ruleVersions,
    seedTemplates,
    addEntry,
    updateEntry,
    removeEntry,
    getEntry,
    listEntries,
    listDecisions,
    getDecision,
    label,
    device,
    accountDevices,
    /** Writes buffered decisions and device links now (tests, shutdown). */
    flush: buffer.flush,
    close: buffer.close,
    counters: counters.kind,
  };
}

export type RiskService = ReturnType<typeof createRiskService>;
