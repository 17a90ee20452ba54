import { AppError } from '../../../src/lib/errors.js';
import { roleAllows, type Permission } from '../../../src/modules/auth/permissions.js';
import type { StaffView } from '../../../src/modules/auth/service.js';
import { backRow, btn, type Ctx, type Feature } from '../context.js';
import { createChatLinks } from '../links.js';
import { userKeyOf } from '../session.js';
import type { Reply, ReplyButton } from '../types.js';
import { yuan } from '../texts.js';

/**
 * Admin commands: only in the configured admin chat, and only for a staff
 * member linked to this chat identity ("/link CODE" with a code from
 * POST /admin/bots/link-code). Each action also needs the staff member's
 * role to allow it, like the admin API (finance approves withdrawals, risk
 * decides reviews); the services audit the decisions as the staff member.
 */
export const adminFeature: Feature = {
  name: 'admin',
  commands: {
    admin: (ctx) => asStaff(ctx, 'self', adminMenu),
    管理: (ctx) => asStaff(ctx, 'self', adminMenu),
    link: (ctx, args) => link(ctx, args[0]),
    绑定: (ctx, args) => link(ctx, args[0]),
  },
  buttons: {
    adm: (ctx, [what, id]) => {
      switch (what) {
        case 'wd':
          return asStaff(ctx, 'finance:withdrawals', pendingWithdrawals);
        case 'wdok':
          return asStaff(ctx, 'finance:withdrawals', (c, st) => decideWithdrawal(c, st, id ?? '', 'approve'));
        case 'wdno':
          return asStaff(ctx, 'finance:withdrawals', (c, st) => decideWithdrawal(c, st, id ?? '', 'reject'));
        case 'rv':
          return asStaff(ctx, 'risk:review', openReviews);
        case 'rvok':
          return asStaff(ctx, 'risk:review', (c, st) => decideReview(c, st, id ?? '', 'approved'));
        case 'rvno':
          return asStaff(ctx, 'risk:review', (c, st) => decideReview(c, st, id ?? '', 'rejected'));
        case 'al':
          return asStaff(ctx, 'system:read', recentAlerts);
        default:
          return asStaff(ctx, 'self', adminMenu);
      }
    },
  },
};

const LIST_SIZE = 5;

type StaffHandler = (ctx: Ctx, staff: StaffView) => Promise<Reply[]>;

function inAdminChat(ctx: Ctx): boolean {
  const chat = ctx.opts.adminChat;
  return Boolean(chat && chat.channel === ctx.place.channel && chat.chatId === ctx.place.chatId);
}

async function asStaff(ctx: Ctx, permission: Permission, h: StaffHandler): Promise<Reply[]> {
  if (!inAdminChat(ctx)) return [{ text: ctx.t('notAdmin') }];
  const staffId = await createChatLinks(ctx.p, ctx.s).staffOf(userKeyOf(ctx.user));
  const staff = staffId ? await ctx.s.auth.getStaff(staffId).catch(() => null) : null;
  if (!staff || staff.disabled || !roleAllows(staff.role, permission)) return [{ text: ctx.t('notAdmin') }];
  return h(ctx, staff);
}

/** "/link CODE": an agent's code (from the agent back office) anywhere; a staff code only counts in the admin chat. */
async function link(ctx: Ctx, code?: string): Promise<Reply[]> {
  if (!code) return [{ text: ctx.t('linkAsk') }];
  const used = await createChatLinks(ctx.p, ctx.s).consume(code, { customerId: ctx.customerId, userKey: userKeyOf(ctx.user) });
  if (!used) return [{ text: ctx.t('linkBad') }];
  if (used.kind === 'agent') return [{ text: ctx.t('linkedAgent', { agent: (await ctx.s.agents.get(used.subjectId)).name }), buttons: [[btn(ctx.t('btnAgent'), 'agent')], backRow(ctx)] }];
  const staff = await ctx.s.auth.getStaff(used.subjectId);
  return [{ text: ctx.t('linkedStaff', { staff: staff.name }) }];
}

async function adminMenu(ctx: Ctx): Promise<Reply[]> {
  return [{ text: ctx.t('adminMenu'), buttons: [[btn(ctx.t('btnPendingWithdrawals'), 'adm', 'wd')], [btn(ctx.t('btnReviews'), 'adm', 'rv')], [btn(ctx.t('btnAlerts'), 'adm', 'al')]] }];
}

async function pendingWithdrawals(ctx: Ctx): Promise<Reply[]> {
  const rows = [...(await ctx.s.withdrawals.list({ limit: LIST_SIZE, status: 'requested' })).data, ...(await ctx.s.withdrawals.list({ limit: LIST_SIZE, status: 'awaiting_second_approval' })).data].slice(0, LIST_SIZE);
  if (!rows.length) return [{ text: ctx.t('noneFound'), buttons: [[btn(ctx.t('adminMenu'), 'adm')]] }];
  const buttons: ReplyButton[][] = rows.map((w) => [btn(ctx.t('btnApprove', { id: w.id.slice(-6) }), 'adm', 'wdok', w.id), btn(ctx.t('btnReject', { id: w.id.slice(-6) }), 'adm', 'wdno', w.id)]);
  const lines = rows.map((w) => ctx.t('withdrawalLine', { id: w.id, agent: w.agent_id, amount: yuan(w.amount_fen), status: w.status }));
  return [{ text: lines.join('\n'), buttons: [...buttons, [btn(ctx.t('adminMenu'), 'adm')]] }];
}

async function decideWithdrawal(ctx: Ctx, staff: StaffView, id: string, what: 'approve' | 'reject'): Promise<Reply[]> {
  try {
    const actor = { id: staff.id };
    if (what === 'approve') await ctx.s.withdrawals.approve(id, actor);
    else await ctx.s.withdrawals.reject(id, actor, `rejected in the admin chat by ${staff.name}`);
    return [{ text: ctx.t(what === 'approve' ? 'approved' : 'rejected', { id }), buttons: [[btn(ctx.t('btnPendingWithdrawals'), 'adm', 'wd')]] }];
  } catch (err) {
    if (err instanceof AppError) return [{ text: ctx.t('adminFailed', { reason: err.message }) }];
    throw err;
  }
}

async function openReviews(ctx: Ctx): Promise<Reply[]> {
  const rows = (await ctx.s.riskReviews.list({ limit: LIST_SIZE, status: 'open' })).data;
  if (!rows.length) return [{ text: ctx.t('noneFound'), buttons: [[btn(ctx.t('adminMenu'), 'adm')]] }];
  const lines = rows.map((r) => ctx.t('reviewLine', { id: r.id, kind: r.subject_type, subject: r.subject_id, reason: r.decision_id }));
  const buttons: ReplyButton[][] = rows.map((r) => [btn(ctx.t('btnApprove', { id: r.id.slice(-6) }), 'adm', 'rvok', r.id), btn(ctx.t('btnReject', { id: r.id.slice(-6) }), 'adm', 'rvno', r.id)]);
  return [{ text: lines.join('\n'), buttons: [...buttons, [btn(ctx.t('adminMenu'), 'adm')]] }];
}

async function decideReview(ctx: Ctx, staff: StaffView, id: string, outcome: 'approved' | 'rejected'): Promise<Reply[]> {
  try {
    const reason = `decided in the admin chat by ${staff.name}`;
    if (outcome === 'approved') await ctx.s.riskReviews.approve(id, reason, { id: staff.id });
    else await ctx.s.riskReviews.reject(id, reason, { id: staff.id });
    return [{ text: ctx.t(outcome === 'approved' ? 'approved' : 'rejected', { id }), buttons: [[btn(ctx.t('btnReviews'), 'adm', 'rv')]] }];
  } catch (err) {
    if (err instanceof AppError) return [{ text: ctx.t('adminFailed', { reason: err.message }) }];
    throw err;
  }
}

async function recentAlerts(ctx: Ctx): Promise<Reply[]> {
  const rows = (await ctx.s.alerts.list({ limit: 10, open: true })).data;
  if (!rows.length) return [{ text: ctx.t('noneFound'), buttons: [[btn(ctx.t('adminMenu'), 'adm')]] }];
  return [{ text: rows.map((a) => ctx.t('alertLine', { at: a.opened_at.slice(0, 16).replace('T', ' '), kind: a.kind, message: a.message })).join('\n'), buttons: [[btn(ctx.t('adminMenu'), 'adm')]] }];
}
