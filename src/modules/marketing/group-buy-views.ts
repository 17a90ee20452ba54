import { Type } from '@sinclair/typebox';
import type { groupBuyCampaigns, groupBuyGroups } from './group-buy-schema.js';

type CampaignRow = typeof groupBuyCampaigns.$inferSelect;
type GroupRow = typeof groupBuyGroups.$inferSelect;

const Nullable = <T extends ReturnType<typeof Type.String | typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()]);

export const GroupBuyCampaignSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  sku_id: Type.String(),
  group_price_fen: Type.Integer(),
  group_size: Type.Integer(),
  duration_minutes: Type.Integer(),
  starts_at: Type.String(),
  ends_at: Type.String(),
  max_groups: Nullable(Type.Integer()),
  per_customer_limit: Type.Integer(),
  groups_opened: Type.Integer(),
  campaign_id: Nullable(Type.String()),
  status: Type.String(),
  created_by: Type.String(),
  created_at: Type.String(),
  ended_at: Nullable(Type.String()),
});

export const GroupBuyGroupSchema = Type.Object({
  id: Type.String(),
  campaign_id: Type.String(),
  leader_customer_id: Type.String(),
  leader_agent_id: Nullable(Type.String()),
  group_size: Type.Integer(),
  seats_taken: Type.Integer(),
  status: Type.String(),
  expires_at: Type.String(),
  created_at: Type.String(),
  completed_at: Nullable(Type.String()),
  failed_at: Nullable(Type.String()),
});

/** What a share page shows: no customer ids, names masked. */
export const GroupStateSchema = Type.Object({
  id: Type.String(),
  campaign_id: Type.String(),
  name: Type.String(),
  sku_id: Type.String(),
  group_price_fen: Type.Integer(),
  group_size: Type.Integer(),
  seats_taken: Type.Integer(),
  seats_left: Type.Integer(),
  status: Type.String({ description: 'open, completed or failed' }),
  expires_at: Type.String(),
  members: Type.Array(Type.Object({ name: Type.String({ description: 'masked' }), is_leader: Type.Boolean(), paid: Type.Boolean(), joined_at: Type.String() })),
});

export type GroupBuyCampaignView = ReturnType<typeof campaignView>;
export type GroupBuyGroupView = ReturnType<typeof groupView>;

const iso = (d: Date | null) => d?.toISOString() ?? null;

export function campaignView(c: CampaignRow) {
  return {
    id: c.id,
    name: c.name,
    sku_id: c.skuId,
    group_price_fen: c.groupPriceFen,
    group_size: c.groupSize,
    duration_minutes: c.durationMinutes,
    starts_at: c.startsAt.toISOString(),
    ends_at: c.endsAt.toISOString(),
    max_groups: c.maxGroups,
    per_customer_limit: c.perCustomerLimit,
    groups_opened: c.groupsOpened,
    campaign_id: c.campaignId,
    status: c.status,
    created_by: c.createdBy,
    created_at: c.createdAt.toISOString(),
    ended_at: iso(c.endedAt),
  };
}

export function groupView(g: GroupRow) {
  return {
    id: g.id,
    campaign_id: g.campaignId,
    leader_customer_id: g.leaderCustomerId,
    leader_agent_id: g.leaderAgentId,
    group_size: g.groupSize,
    seats_taken: g.seatsTaken,
    status: g.status,
    expires_at: g.expiresAt.toISOString(),
    created_at: g.createdAt.toISOString(),
    completed_at: iso(g.completedAt),
    failed_at: iso(g.failedAt),
  };
}
