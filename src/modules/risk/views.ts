import type { riskDecisions, riskDeviceLinks, riskListEntries, riskRules } from './schema.js';

/** The API shapes of the risk tables (snake_case, ISO times). */
export interface RuleView {
  id: string;
  name: string;
  description: string;
  action: string;
  mode: string;
  condition: unknown;
  applies_to: string[];
  enabled: boolean;
  version: number;
  template: string | null;
  updated_by: string | null;
  updated_at: string;
  created_at: string;
}

export const ruleView = (r: typeof riskRules.$inferSelect): RuleView => ({
  id: r.id,
  name: r.name,
  description: r.description,
  action: r.action,
  mode: r.mode,
  condition: r.condition,
  applies_to: r.appliesTo,
  enabled: r.enabled,
  version: r.version,
  template: r.template,
  updated_by: r.updatedBy,
  updated_at: r.updatedAt.toISOString(),
  created_at: r.createdAt.toISOString(),
});

export interface ListEntryView {
  id: string;
  type: string;
  value: string;
  reason: string;
  expires_at: string | null;
  created_by: string | null;
  created_at: string;
}

export const entryView = (r: typeof riskListEntries.$inferSelect): ListEntryView => ({
  id: r.id,
  type: r.type,
  value: r.value,
  reason: r.reason,
  expires_at: r.expiresAt?.toISOString() ?? null,
  created_by: r.createdBy,
  created_at: r.createdAt.toISOString(),
});

export interface DecisionView {
  id: string;
  action: string;
  subject: string | null;
  ip: string;
  device: string | null;
  decision: string;
  reasons: unknown;
  shadow_matches: unknown;
  features: unknown;
  score: number | null;
  rule_versions: unknown;
  label: string | null;
  labelled_by: string | null;
  labelled_at: string | null;
  created_at: string;
}

export const decisionView = (r: typeof riskDecisions.$inferSelect): DecisionView => ({
  id: r.id,
  action: r.action,
  subject: r.subject,
  ip: r.ip,
  device: r.device,
  decision: r.decision,
  reasons: r.reasons,
  shadow_matches: r.shadowMatches,
  features: r.features,
  score: r.score,
  rule_versions: r.ruleVersions,
  label: r.label,
  labelled_by: r.labelledBy,
  labelled_at: r.labelledAt?.toISOString() ?? null,
  created_at: r.createdAt.toISOString(),
});

export const linkView = (l: typeof riskDeviceLinks.$inferSelect) => ({ subject_id: l.subjectId, first_seen: l.firstSeen.toISOString(), last_seen: l.lastSeen.toISOString(), hits: l.hits });
