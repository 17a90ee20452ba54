/**
 * Which agent a customer belongs to when several agents' links or codes reach
 * it. Pure rules; the agents service applies them under a row lock.
 *
 *  - first_touch (default): the first agent whose link or code the customer
 *    touched keeps it; later touches by other agents change nothing;
 *  - last_touch: every touch rebinds (a touch by the same agent renews the
 *    binding's expiry);
 *  - either way a binding ends after REFERRAL_BINDING_DAYS (0 = never), and a
 *    binding to a frozen agent does not count: the next touch after either
 *    rebinds.
 */
export const bindingModes = ['first_touch', 'last_touch'] as const;
export type BindingMode = (typeof bindingModes)[number];

export type BindReason = 'new' | 'already_bound' | 'kept_first_touch' | 'renewed' | 'rebound_last_touch' | 'rebound_expired' | 'rebound_agent_frozen';

export interface CurrentBinding {
  agentId: string;
  expiresAt: Date | null;
  agentActive: boolean;
}

const DAY_MS = 86_400_000;

export const isActiveBinding = (b: CurrentBinding, now: Date) => b.agentActive && (b.expiresAt === null || b.expiresAt.getTime() > now.getTime());

export function bindingExpiry(now: Date, days: number): Date | null {
  return days > 0 ? new Date(now.getTime() + days * DAY_MS) : null;
}

/** Whether a touch by `agentId` (re)binds the customer, and why. */
export function decideBinding(current: CurrentBinding | null, agentId: string, now: Date, mode: BindingMode): { bind: boolean; reason: BindReason } {
  if (!current) return { bind: true, reason: 'new' };
  if (current.expiresAt !== null && current.expiresAt.getTime() <= now.getTime()) return { bind: true, reason: 'rebound_expired' };
  if (!current.agentActive) return { bind: true, reason: current.agentId === agentId ? 'renewed' : 'rebound_agent_frozen' };
  if (current.agentId === agentId) return mode === 'last_touch' ? { bind: true, reason: 'renewed' } : { bind: false, reason: 'already_bound' };
  return mode === 'first_touch' ? { bind: false, reason: 'kept_first_touch' } : { bind: true, reason: 'rebound_last_touch' };
}
