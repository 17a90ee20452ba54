import { randomBytes } from 'node:crypto';
import { AppError } from '../../../src/lib/errors.js';
import { chinaDayStart } from '../../../src/modules/withdrawals/fees.js';
import { refuseUnlessPassed } from '../../../src/modules/risk/gate-http.js';
import type { AgentView } from '../../../src/modules/agents/service.js';
import { backRow, btn, type Ctx, type Feature } from '../context.js';
import { gateInputOfChat } from '../place-order.js';
import type { Reply } from '../types.js';
import { yuan } from '../texts.js';

/**
 * For agents and group leaders whose agent account is linked to this chat
 * user's customer account (agents.customer_id; "/link CODE" with a code from
 * the agent back office): commission, withdraw, team, share, stock.
 */
export const agentFeature: Feature = {
  name: 'agent',
  commands: {
    agent: (ctx) => asAgent(ctx, agentMenu),
    代理: (ctx) => asAgent(ctx, agentMenu),
    commission: (ctx) => asAgent(ctx, commission),
    佣金: (ctx) => asAgent(ctx, commission),
    withdraw: (ctx, args) => asAgent(ctx, (c, a) => withdrawStart(c, a, args[0])),
    提现: (ctx, args) => asAgent(ctx, (c, a) => withdrawStart(c, a, args[0])),
    team: (ctx) => asAgent(ctx, team),
    团队: (ctx) => asAgent(ctx, team),
    share: (ctx) => asAgent(ctx, share),
    分享: (ctx) => asAgent(ctx, share),
    stock: (ctx) => asAgent(ctx, stock),
    库存: (ctx) => asAgent(ctx, stock),
    mygroup: (ctx) => asAgent(ctx, addGroup),
    我的群: (ctx) => asAgent(ctx, addGroup),
    announce: (ctx) => asAgent(ctx, announce),
    公告: (ctx) => asAgent(ctx, announce),
  },
  buttons: {
    agent: (ctx, [what, ...rest]) =>
      asAgent(ctx, (c, a) => {
        switch (what) {
          case 'com':
            return commission(c, a);
          case 'wd':
            return withdrawStart(c, a);
          case 'wdacc':
            return withdrawAccount(c, a, rest[0] ?? '', rest[1] === 'openid' ? c.user.externalId : undefined);
          case 'wdok':
            return withdrawConfirm(c, a, rest[0] ?? '');
          case 'team':
            return team(c, a);
          case 'share':
            return share(c, a);
          case 'stock':
            return stock(c, a);
          default:
            return agentMenu(c, a);
        }
      }),
  },
  answers: {
    withdraw_amount: (ctx, [text]) => asAgent(ctx, (c, a) => withdrawAmount(c, a, text ?? '')),
    withdraw_account: (ctx, [text]) => asAgent(ctx, (c, a) => withdrawAccount(c, a, ctx.session.withdraw?.id ?? '', text ?? '')),
  },
};

type AgentHandler = (ctx: Ctx, agent: AgentView) => Promise<Reply[]>;

async function asAgent(ctx: Ctx, h: AgentHandler): Promise<Reply[]> {
  const agent = await ctx.s.agents.ofCustomer(ctx.customerId);
  if (!agent) return [{ text: ctx.t('notAgent'), buttons: [backRow(ctx)] }];
  return h(ctx, agent);
}

async function agentMenu(ctx: Ctx, agent: AgentView): Promise<Reply[]> {
  return [
    {
      text: ctx.t('agentMenu', { agent: agent.name }),
      buttons: [
        [btn(ctx.t('btnCommission'), 'agent', 'com'), btn(ctx.t('btnWithdraw'), 'agent', 'wd')],
        [btn(ctx.t('btnTeam'), 'agent', 'team'), btn(ctx.t('btnShare'), 'agent', 'share'), btn(ctx.t('btnStock'), 'agent', 'stock')],
        backRow(ctx),
      ],
    },
  ];
}

/** Start of the China (UTC+8) month `at` falls in. */
function chinaMonthStart(at: Date): Date {
  const offset = 8 * 3_600_000;
  const local = new Date(at.getTime() + offset);
  return new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), 1) - offset);
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

async function commission(ctx: Ctx, agent: AgentView): Promise<Reply[]> {
  const now = ctx.p.clock.now();
  const end = new Date(now.getTime() + 1);
  const summary = await ctx.s.agentBackOffice.summary(agent.id);
  const today = sum(await ctx.s.commissions.earnedByPeriod(agent.id, { period: 'day', from: chinaDayStart(now), end }));
  const month = sum(await ctx.s.commissions.earnedByPeriod(agent.id, { period: 'month', from: chinaMonthStart(now), end }));
  return [
    {
      text: ctx.t('commission', { agent: agent.name, today: yuan(today), month: yuan(month), pending: yuan(summary.balances.commission_pending_fen), available: yuan(summary.balances.commission_available_fen) }),
      buttons: [[btn(ctx.t('btnWithdraw'), 'agent', 'wd')], backRow(ctx)],
    },
  ];
}

async function withdrawStart(ctx: Ctx, agent: AgentView, amount?: string): Promise<Reply[]> {
  ctx.session.withdraw = { id: randomBytes(8).toString('base64url') };
  if (amount) return withdrawAmount(ctx, agent, amount);
  const summary = await ctx.s.agentBackOffice.summary(agent.id);
  ctx.session.awaiting = 'withdraw_amount';
  return [{ text: ctx.t('askWithdraw', { available: yuan(summary.balances.commission_available_fen) }), buttons: [[btn(ctx.t('btnCancel'), 'cancel')]] }];
}

async function withdrawAmount(ctx: Ctx, _agent: AgentView, text: string): Promise<Reply[]> {
  const m = text.trim().match(/^(\d{1,9})(?:\.(\d{1,2}))?$/);
  const flow = ctx.session.withdraw;
  if (!flow) return [{ text: ctx.t('expired'), buttons: [backRow(ctx)] }];
  if (!m) {
    ctx.session.awaiting = 'withdraw_amount';
    return [{ text: ctx.t('badAmount'), buttons: [[btn(ctx.t('btnCancel'), 'cancel')]] }];
  }
  flow.amountFen = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  ctx.session.awaiting = 'withdraw_account';
  // On WeChat the payout can go to the user's own openid; elsewhere a bank account is asked for.
  const buttons = ctx.user.provider === 'wechat_openid' ? [[btn('WeChat', 'agent', 'wdacc', flow.id, 'openid')], [btn(ctx.t('btnCancel'), 'cancel')]] : [[btn(ctx.t('btnCancel'), 'cancel')]];
  return [{ text: ctx.t('askPayout'), buttons }];
}

async function withdrawAccount(ctx: Ctx, _agent: AgentView, flowId: string, account?: string): Promise<Reply[]> {
  const flow = ctx.session.withdraw;
  if (!flow || flow.id !== flowId || !flow.amountFen || !account) return [{ text: ctx.t('expired'), buttons: [backRow(ctx)] }];
  delete ctx.session.awaiting;
  const isOpenid = ctx.user.provider === 'wechat_openid' && account === ctx.user.externalId;
  flow.method = isOpenid ? 'wechat_transfer' : 'bank_transfer';
  flow.account = isOpenid ? account : account.replace(/[\s-]/g, '');
  const masked = `****${flow.account.slice(-4)}`;
  return [{ text: ctx.t('confirmWithdraw', { amount: yuan(flow.amountFen), account: masked }), buttons: [[btn(ctx.t('btnConfirm'), 'agent', 'wdok', flow.id)], [btn(ctx.t('btnCancel'), 'cancel')]] }];
}

async function withdrawConfirm(ctx: Ctx, agent: AgentView, flowId: string): Promise<Reply[]> {
  const flow = ctx.session.withdraw;
  if (!flow || flow.id !== flowId || !flow.amountFen || !flow.method || !flow.account) return [{ text: ctx.t('expired'), buttons: [backRow(ctx)] }];
  const amountFen = flow.amountFen;
  await ctx.s.risk.warm();
  try {
    const done = await ctx.s.withdrawals.request({
      agentId: agent.id,
      amountFen,
      method: flow.method,
      payoutAccount: flow.account,
      // The flow is the request: a second press of Confirm answers the same withdrawal.
      idempotencyKey: `bot:${flow.id}`,
      gate: async (tx, withdrawalId) => {
        const d = await ctx.s.risk.assess({ action: 'withdrawal', ...gateInputOfChat(ctx.user, ctx.place), account: { type: 'agent', id: agent.id }, agentId: agent.id, amountFen });
        const verdict = refuseUnlessPassed(d);
        if (verdict === 'review') await ctx.s.riskReviews.open(tx, { subjectType: 'withdrawal', subjectId: withdrawalId, decisionId: d.decision_id });
        return verdict;
      },
    });
    const w = done.withdrawal;
    // The payout account does not stay in the session once the request is made.
    delete ctx.session.withdraw;
    return [{ text: ctx.t('withdrawn', { id: w.id, amount: yuan(w.amount_fen), fee: yuan(w.fee_fen), status: w.status }), buttons: [backRow(ctx)] }];
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    const reason = err.code === 'RISK_BLOCKED' ? ctx.t('riskBlocked') : err.code === 'CHALLENGE_REQUIRED' ? ctx.t('riskChallenge') : err.message;
    return [{ text: ctx.t('withdrawFailed', { reason }), buttons: [backRow(ctx)] }];
  }
}

async function team(ctx: Ctx, agent: AgentView): Promise<Reply[]> {
  const page = await ctx.s.agentBackOffice.team(agent.id, { limit: 20 });
  const summary = await ctx.s.agentBackOffice.summary(agent.id);
  const lines = page.data.map((m) => ctx.t('teamLine', { name: m.name, role: m.role, status: m.status }));
  return [{ text: ctx.t('team', { agent: agent.name, count: summary.team_size, lines: lines.join('\n') }).trim(), buttons: [backRow(ctx)] }];
}

/** The agent's referral CDK (created on first ask), its link and QR; plus the chat deep link that binds new customers (/start ref_CODE). */
async function share(ctx: Ctx, agent: AgentView): Promise<Reply[]> {
  const ref = await ctx.s.referralCdks.withQr(await ctx.s.referralCdks.issue({ type: 'agent', id: agent.id }));
  const png = Buffer.from(ref.qr_png.replace(/^data:image\/png;base64,/, ''), 'base64');
  const deepLink = ctx.opts.telegramBotUsername ? `https://t.me/${ctx.opts.telegramBotUsername}?start=ref_${agent.referral_code}` : `/start ref_${agent.referral_code}`;
  return [
    {
      text: `${ctx.t('share', { code: ref.code, link: ref.link })}\n${ctx.t('shareDeepLink', { link: deepLink })}`,
      url: { label: ctx.t('btnShare'), href: ref.link },
      image: { png, caption: ref.code },
      buttons: [backRow(ctx)],
    },
  ];
}

async function stock(ctx: Ctx, agent: AgentView): Promise<Reply[]> {
  const page = await ctx.s.agentBackOffice.products(agent.id, { limit: 20 });
  if (!page.data.length) return [{ text: ctx.t('stockEmpty'), buttons: [backRow(ctx)] }];
  const lines = page.data.map((s) => ctx.t('stockLine', { name: `${s.product_name} ${s.name}`, price: yuan(s.price_fen), stock: s.available }));
  return [{ text: [ctx.t('stockTitle'), ...lines].join('\n'), buttons: [backRow(ctx)] }];
}

/** In a group: the agent registers it to receive its announcements (at most 20, kept in the agent's session). */
async function addGroup(ctx: Ctx): Promise<Reply[]> {
  if (ctx.place.kind !== 'group') return [{ text: ctx.t('groupOnlyInGroup') }];
  const groups = (ctx.session.groups ?? []).filter((g) => !(g.channel === ctx.place.channel && g.chatId === ctx.place.chatId));
  ctx.session.groups = [...groups, { channel: ctx.place.channel, chatId: ctx.place.chatId }].slice(-20);
  return [{ text: ctx.t('groupAdded', { count: ctx.session.groups.length }) }];
}

/**
 * A sales announcement to the agent's groups, through the outbound queue
 * (which keeps the platforms' group limits). The message id keys it, so a
 * redelivered command queues nothing twice.
 */
async function announce(ctx: Ctx, agent: AgentView): Promise<Reply[]> {
  const raw = ctx.inbound.payload.type === 'text' ? ctx.inbound.payload.text.trim() : '';
  const body = raw.replace(/^\/?\S+\s*/u, '').trim();
  if (!body) return [{ text: ctx.t('announceUsage') }];
  const groups = ctx.session.groups ?? [];
  if (!groups.length) return [{ text: ctx.t('announceNoGroups') }];
  const key = `${ctx.place.channel}:${ctx.inbound.messageId ?? randomBytes(8).toString('hex')}`;
  const done = await ctx.s.chatDeliveries.announce(agent.id, body, groups.map((g) => ({ channel: g.channel, chatId: g.chatId, kind: 'group' as const })), { key, locale: ctx.locale });
  return [{ text: ctx.t('announceQueued', { count: done.queued }), buttons: [backRow(ctx)] }];
}
