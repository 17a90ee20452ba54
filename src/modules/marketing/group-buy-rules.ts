/**
 * Group-buy rules as pure functions: what the service checks before it
 * writes, and what the conditional UPDATEs enforce again under concurrency.
 * Each refusal carries the field it is about and a message a buyer can read.
 */
import type { FieldIssue } from '../../lib/errors.js';

export const GROUP_SIZE_MIN = 2;
export const GROUP_SIZE_MAX = 100;
export const DURATION_MAX_MINUTES = 7 * 24 * 60;

export interface CampaignTerms {
  groupPriceFen: number;
  groupSize: number;
  durationMinutes: number;
  startsAt: Date;
  endsAt: Date;
  maxGroups: number | null;
  perCustomerLimit: number;
}

/** The terms' own consistency (the SKU's list price is checked by the service, which reads it). */
export function campaignTermsIssues(t: CampaignTerms, listPriceFen?: number): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (!Number.isSafeInteger(t.groupPriceFen) || t.groupPriceFen < 1) issues.push({ field: 'group_price_fen', message: 'must be a positive whole number of fen' });
  else if (listPriceFen !== undefined && t.groupPriceFen > listPriceFen) issues.push({ field: 'group_price_fen', message: `must not exceed the list price (${listPriceFen} fen)` });
  if (!Number.isInteger(t.groupSize) || t.groupSize < GROUP_SIZE_MIN || t.groupSize > GROUP_SIZE_MAX) issues.push({ field: 'group_size', message: `must be ${GROUP_SIZE_MIN}-${GROUP_SIZE_MAX}` });
  if (!Number.isInteger(t.durationMinutes) || t.durationMinutes < 1 || t.durationMinutes > DURATION_MAX_MINUTES) issues.push({ field: 'duration_minutes', message: `must be 1-${DURATION_MAX_MINUTES}` });
  if (!(t.endsAt.getTime() > t.startsAt.getTime())) issues.push({ field: 'ends_at', message: 'must be after starts_at' });
  if (t.maxGroups !== null && (!Number.isInteger(t.maxGroups) || t.maxGroups < 1)) issues.push({ field: 'max_groups', message: 'must be at least 1' });
  if (!Number.isInteger(t.perCustomerLimit) || t.perCustomerLimit < 1) issues.push({ field: 'per_customer_limit', message: 'must be at least 1' });
  return issues;
}

export type Refusal = { ok: false; code: 'CONFLICT' | 'UNPROCESSABLE'; field: string; message: string };
export type Verdict = { ok: true } | Refusal;
const refuse = (code: Refusal['code'], field: string, message: string): Refusal => ({ ok: false, code, field, message });
const OK: Verdict = { ok: true };

/** Whether a new group may be opened in this campaign now. */
export function canOpen(c: { status: string; startsAt: Date; endsAt: Date; maxGroups: number | null; groupsOpened: number }, now: Date, customer: { seatsInCampaign: number; perCustomerLimit: number }): Verdict {
  if (c.status !== 'active') return refuse('CONFLICT', 'id', 'this group-buy campaign has ended');
  if (now.getTime() < c.startsAt.getTime()) return refuse('CONFLICT', 'id', `this group-buy campaign starts at ${c.startsAt.toISOString()}`);
  if (now.getTime() >= c.endsAt.getTime()) return refuse('CONFLICT', 'id', 'this group-buy campaign is over');
  if (c.maxGroups !== null && c.groupsOpened >= c.maxGroups) return refuse('CONFLICT', 'id', 'no more groups can be opened in this campaign');
  if (customer.seatsInCampaign >= customer.perCustomerLimit) return refuse('CONFLICT', 'customer', `at most ${customer.perCustomerLimit} group(s) per customer in this campaign`);
  return OK;
}

/** Whether a customer may take a seat in this group now (the seat UPDATE checks the same again, atomically). */
export function canJoin(
  g: { status: string; groupSize: number; seatsTaken: number; expiresAt: Date },
  now: Date,
  customer: { alreadyMember: boolean; seatsInCampaign: number; perCustomerLimit: number },
): Verdict {
  if (customer.alreadyMember) return refuse('CONFLICT', 'customer', 'this customer is already a member of this group');
  if (g.status === 'completed') return refuse('CONFLICT', 'group_id', 'this group is already complete');
  if (g.status === 'failed' || isExpired(g, now)) return refuse('CONFLICT', 'group_id', 'this group has expired');
  if (g.seatsTaken >= g.groupSize) return refuse('CONFLICT', 'group_id', 'this group is full');
  if (customer.seatsInCampaign >= customer.perCustomerLimit) return refuse('CONFLICT', 'customer', `at most ${customer.perCustomerLimit} group(s) per customer in this campaign`);
  return OK;
}

/** Why a seat could not be taken, read after the conditional UPDATE found no row to change. */
export function seatRefusal(g: { status: string; groupSize: number; seatsTaken: number; expiresAt: Date } | undefined, now: Date): Refusal {
  if (!g) return refuse('CONFLICT', 'group_id', 'this group does not exist');
  const v = canJoin(g, now, { alreadyMember: false, seatsInCampaign: 0, perCustomerLimit: 1 });
  return v.ok ? refuse('CONFLICT', 'group_id', 'this group is full') : v;
}

/** Complete when every seat is held by a paid member. */
export function isComplete(paidMembers: number, groupSize: number): boolean {
  return paidMembers >= groupSize;
}

/** An open group past its deadline fails (a full group completes as its last member pays, never by time). */
export function isExpired(g: { expiresAt: Date }, now: Date): boolean {
  return now.getTime() >= g.expiresAt.getTime();
}

/** A group runs for the campaign's duration, but never past the campaign's end. */
export function groupDeadline(now: Date, durationMinutes: number, campaignEndsAt: Date): Date {
  return new Date(Math.min(now.getTime() + durationMinutes * 60_000, campaignEndsAt.getTime()));
}

/** A member as the share page shows it: first character, then stars ("张**"); never the full name. */
export function maskName(displayName: string | null | undefined): string {
  const chars = [...(displayName ?? '').trim()];
  if (chars.length === 0) return '**';
  return `${chars[0]}**`;
}
