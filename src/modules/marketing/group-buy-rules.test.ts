import { describe, expect, it } from 'vitest';
import { campaignTermsIssues, canJoin, canOpen, groupDeadline, isComplete, isExpired, maskName, seatRefusal } from './group-buy-rules.js';

const now = new Date('2026-11-29T12:00:00Z');
const min = (n: number) => new Date(now.getTime() + n * 60_000);
const terms = { groupPriceFen: 5_000, groupSize: 5, durationMinutes: 60, startsAt: min(-10), endsAt: min(600), maxGroups: 10, perCustomerLimit: 1 };
const campaign = { status: 'active', startsAt: min(-10), endsAt: min(600), maxGroups: 2, groupsOpened: 0 };
const group = { status: 'open', groupSize: 3, seatsTaken: 1, expiresAt: min(30) };
const fresh = { alreadyMember: false, seatsInCampaign: 0, perCustomerLimit: 1 };

describe('campaign terms', () => {
  it('accepts sound terms and names every bad field', () => {
    expect(campaignTermsIssues(terms, 9_600)).toEqual([]);
    const bad = campaignTermsIssues({ ...terms, groupPriceFen: 0, groupSize: 1, durationMinutes: 0, endsAt: min(-20), maxGroups: 0, perCustomerLimit: 0 });
    expect(bad.map((i) => i.field)).toEqual(['group_price_fen', 'group_size', 'duration_minutes', 'ends_at', 'max_groups', 'per_customer_limit']);
    expect(campaignTermsIssues({ ...terms, groupSize: 101 }).map((i) => i.field)).toEqual(['group_size']);
    expect(campaignTermsIssues({ ...terms, groupPriceFen: 9_601 }, 9_600)[0]).toMatchObject({ field: 'group_price_fen' });
    expect(campaignTermsIssues({ ...terms, maxGroups: null })).toEqual([]);
  });
});

describe('opening a group', () => {
  it('only in an active campaign, inside its window, under the group cap and the per-customer limit', () => {
    expect(canOpen(campaign, now, fresh)).toEqual({ ok: true });
    expect(canOpen({ ...campaign, status: 'ended' }, now, fresh)).toMatchObject({ ok: false, message: expect.stringContaining('ended') });
    expect(canOpen({ ...campaign, startsAt: min(5) }, now, fresh)).toMatchObject({ ok: false, message: expect.stringContaining('starts at') });
    expect(canOpen({ ...campaign, endsAt: now }, now, fresh)).toMatchObject({ ok: false, message: expect.stringContaining('over') });
    expect(canOpen({ ...campaign, groupsOpened: 2 }, now, fresh)).toMatchObject({ ok: false, code: 'CONFLICT', message: expect.stringContaining('no more groups') });
    expect(canOpen({ ...campaign, maxGroups: null, groupsOpened: 1000 }, now, fresh)).toEqual({ ok: true });
    expect(canOpen(campaign, now, { ...fresh, seatsInCampaign: 1 })).toMatchObject({ ok: false, field: 'customer' });
  });
});

describe('joining a group', () => {
  it('refuses members twice, full, complete and expired groups, and customers over their limit', () => {
    expect(canJoin(group, now, fresh)).toEqual({ ok: true });
    expect(canJoin(group, now, { ...fresh, alreadyMember: true })).toMatchObject({ ok: false, field: 'customer', message: expect.stringContaining('already a member') });
    expect(canJoin({ ...group, seatsTaken: 3 }, now, fresh)).toMatchObject({ ok: false, message: 'this group is full' });
    expect(canJoin({ ...group, status: 'completed', seatsTaken: 3 }, now, fresh)).toMatchObject({ ok: false, message: 'this group is already complete' });
    expect(canJoin({ ...group, status: 'failed' }, now, fresh)).toMatchObject({ ok: false, message: 'this group has expired' });
    expect(canJoin({ ...group, expiresAt: now }, now, fresh)).toMatchObject({ ok: false, message: 'this group has expired' });
    expect(canJoin(group, now, { ...fresh, seatsInCampaign: 1 })).toMatchObject({ ok: false, field: 'customer' });
  });

  it('explains a lost seat race', () => {
    expect(seatRefusal({ ...group, seatsTaken: 3 }, now).message).toBe('this group is full');
    expect(seatRefusal({ ...group, expiresAt: min(-1) }, now).message).toBe('this group has expired');
    expect(seatRefusal(undefined, now).message).toBe('this group does not exist');
  });
});

describe('completion and expiry', () => {
  it('completes when every seat is paid; expires at the deadline', () => {
    expect(isComplete(4, 5)).toBe(false);
    expect(isComplete(5, 5)).toBe(true);
    expect(isExpired({ expiresAt: min(1) }, now)).toBe(false);
    expect(isExpired({ expiresAt: now }, now)).toBe(true);
  });

  it('a group runs its duration but never past the campaign end', () => {
    expect(groupDeadline(now, 60, min(600))).toEqual(min(60));
    expect(groupDeadline(now, 60, min(20))).toEqual(min(20));
  });

  it('masks names for the share page', () => {
    expect(maskName('张三丰')).toBe('张**');
    expect(maskName('alice')).toBe('a**');
    expect(maskName('')).toBe('**');
    expect(maskName(null)).toBe('**');
  });
});
