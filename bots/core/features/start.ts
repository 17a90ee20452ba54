import { AppError } from '../../../src/lib/errors.js';
import { btn, menuButtons, type Ctx, type Feature } from '../context.js';
import type { Reply } from '../types.js';

/** /start (with a referral payload), /menu, /help, /lang, /cancel. */
export const startFeature: Feature = {
  name: 'start',
  commands: {
    start: (ctx, args) => start(ctx, args[0]),
    开始: (ctx, args) => start(ctx, args[0]),
    menu: async (ctx) => [menu(ctx)],
    菜单: async (ctx) => [menu(ctx)],
    help: async (ctx) => [help(ctx)],
    帮助: async (ctx) => [help(ctx)],
    lang: (ctx, args) => lang(ctx, args[0]),
    语言: (ctx, args) => lang(ctx, args[0]),
    cancel: async (ctx) => cancel(ctx),
    取消: async (ctx) => cancel(ctx),
  },
  buttons: {
    menu: async (ctx) => [menu(ctx)],
    help: async (ctx) => [help(ctx)],
    lang: (ctx, args) => lang(ctx, args[0]),
    cancel: async (ctx) => cancel(ctx),
  },
};

export function menu(ctx: Ctx, prefix?: string): Reply {
  return { text: prefix ? `${prefix}\n\n${ctx.t('menu')}` : ctx.t('menu'), buttons: menuButtons(ctx) };
}

function help(ctx: Ctx): Reply {
  return { text: ctx.t('help'), buttons: [[btn(ctx.t('btnBack'), 'menu')]] };
}

function cancel(ctx: Ctx): Reply[] {
  delete ctx.session.awaiting;
  delete ctx.session.buy;
  delete ctx.session.withdraw;
  return [menu(ctx, ctx.t('cancelled'))];
}

async function lang(ctx: Ctx, arg?: string): Promise<Reply[]> {
  const next = arg ? (/^zh/i.test(arg) || arg === '中文' ? 'zh-CN' : 'en') : ctx.locale === 'en' ? 'zh-CN' : 'en';
  ctx.session.locale = next;
  ctx.locale = next;
  return [menu(ctx, ctx.t('langSet'))];
}

/** "/start ref_CODE" (Telegram deep link) binds the new customer to the agent with that referral code. */
async function start(ctx: Ctx, payload?: string): Promise<Reply[]> {
  const lines = [ctx.t('welcome', { name: ctx.user.displayName ?? '' }).replace(/,\s*!/, '!').replace(/，！/, '！')];
  const ref = payload?.match(/^ref_([A-Za-z0-9_-]{3,40})$/)?.[1];
  if (ref) lines.push(await bind(ctx, ref));
  return [menu(ctx, lines.join('\n'))];
}

async function bind(ctx: Ctx, code: string): Promise<string> {
  try {
    const r = await ctx.s.agents.bindCustomer(ctx.customerId, code, `bot_${ctx.place.channel}`);
    const agent = await ctx.s.agents.get(r.agent_id);
    return ctx.t(r.bound ? 'welcomeBound' : 'welcomeRefKept', { agent: agent.name });
  } catch (err) {
    if (err instanceof AppError && (err.code === 'NOT_FOUND' || err.code === 'UNPROCESSABLE')) return ctx.t('welcomeRefUnknown');
    throw err;
  }
}
