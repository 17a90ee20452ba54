import { and, asc, eq, gt, gte, lt, type SQL } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import { AppError } from '../../lib/errors.js';
import type { RiskAction, RiskFeatures } from './features.js';
import { compile, orderRules, type Condition, type Rule, type RuleAction, type RuleMode } from './risk-rules.js';
import { BlockLists } from './lists.js';
import { CANDIDATE_RULE_ID, checkCandidate, createBacktest, withCandidate, type BacktestReport, type Candidate } from './backtest.js';
import { riskDecisions, riskListEntries, riskRules } from './schema.js';

export interface BacktestQuery {
  candidate: Candidate;
  from: Date;
  to: Date;
  /** Only decisions of this gate action (order, login...). */
  action?: RiskAction;
}

export type BacktestResult = BacktestReport & { period: { from: string; to: string }; action: RiskAction | null; batches: number; batch_size: number; lists_note: string };

/**
 * Reads past decisions in pages (keyset on id, `batchSize` rows at a time, so
 * a million decisions never sit in memory at once) and replays them with
 * backtest.ts against the rules in the table now (enabled or not: a change
 * may enable one) and the block lists as they are now.
 */
export function createBacktestService(p: Platform, deps: { flush: () => Promise<void> }, o: { batchSize: number }) {
  async function run(q: BacktestQuery): Promise<BacktestResult> {
    if (q.from.getTime() >= q.to.getTime()) throw new AppError('VALIDATION_FAILED', 'to: must be after from', [{ field: 'to', message: 'must be after from' }]);
    const rows = await p.db.select().from(riskRules).orderBy(asc(riskRules.id));
    const current: Rule[] = rows.map((r) => ({ id: r.id, name: r.name, version: r.version, action: r.action as RuleAction, mode: r.mode as RuleMode, condition: r.condition as Condition, appliesTo: r.appliesTo as RiskAction[], enabled: r.enabled, test: compile(r.condition as Condition) }));
    const issues = checkCandidate(q.candidate, current);
    if (issues.length) throw new AppError('VALIDATION_FAILED', `${issues[0]!.field}: ${issues[0]!.message}`, issues);
    const baseline = orderRules(current);
    const candidateRules = withCandidate(current, q.candidate);
    const bt = createBacktest(baseline, candidateRules, q.candidate.kind === 'new' ? CANDIDATE_RULE_ID : q.candidate.ruleId);

    const entries = await p.db.select({ type: riskListEntries.type, value: riskListEntries.value, expiresAt: riskListEntries.expiresAt }).from(riskListEntries);
    const lists = new BlockLists(entries);
    const now = p.clock.now().getTime();

    // Decisions still in the write buffer belong to the period too.
    await deps.flush();
    let cursor: string | null = null;
    let batches = 0;
    for (;;) {
      const filters: (SQL | undefined)[] = [gte(riskDecisions.createdAt, q.from), lt(riskDecisions.createdAt, q.to), q.action ? eq(riskDecisions.action, q.action) : undefined, cursor ? gt(riskDecisions.id, cursor) : undefined];
      const page = await p.db
        .select({ id: riskDecisions.id, ip: riskDecisions.ip, device: riskDecisions.device, subject: riskDecisions.subject, features: riskDecisions.features, label: riskDecisions.label })
        .from(riskDecisions)
        .where(and(...filters))
        .orderBy(asc(riskDecisions.id))
        .limit(o.batchSize);
      if (page.length === 0) break;
      batches++;
      bt.add(
        page.map((d) => ({
          id: d.id,
          features: d.features as RiskFeatures,
          // Phone hashes, openids and Telegram ids are not stored with decisions: those lists cannot match in a replay.
          listed: lists.match({ ip: d.ip, deviceId: d.device ?? undefined, accountId: d.subject ? d.subject.slice(d.subject.indexOf(':') + 1) : undefined }, now),
          label: d.label === 'fraud' || d.label === 'legit' ? d.label : null,
        })),
      );
      cursor = page[page.length - 1]!.id;
      if (page.length < o.batchSize) break;
    }
    return {
      period: { from: q.from.toISOString(), to: q.to.toISOString() },
      action: q.action ?? null,
      batches,
      batch_size: o.batchSize,
      lists_note: 'block lists are evaluated as they are now (not as they were at decision time), on the IP, device and account stored with each decision; phone, openid and Telegram id lists cannot match in a replay',
      ...bt.report(),
    };
  }

  return { run };
}

export type BacktestService = ReturnType<typeof createBacktestService>;
