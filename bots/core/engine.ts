import { AppError } from '../../src/lib/errors.js';
import type { Ctx, Feature, Handler } from './context.js';
import type { Reply } from './types.js';

/**
 * Combines features into one dispatcher (grammY's Composer idea, without the
 * middleware chain): a slash command or a known command word goes to its
 * feature; a button's data goes to the feature owning its first segment;
 * other text answers the question the session is waiting on.
 */
export function compose(features: Feature[], fallback: Handler) {
  const commands = new Map<string, Handler>();
  const buttons = new Map<string, Handler>();
  const answers = new Map<string, Handler>();
  for (const f of features) {
    for (const [k, h] of Object.entries(f.commands ?? {})) add(commands, k.toLowerCase(), h, f.name);
    for (const [k, h] of Object.entries(f.buttons ?? {})) add(buttons, k, h, f.name);
    for (const [k, h] of Object.entries(f.answers ?? {})) if (h) add(answers, k, h, f.name);
  }

  async function dispatch(ctx: Ctx): Promise<Reply[]> {
    const payload = ctx.inbound.payload;
    if (payload.type === 'button') {
      const [head, ...rest] = payload.data.split(':');
      const h = buttons.get(head ?? '');
      return h ? h(ctx, rest) : [{ text: ctx.t('expired') }];
    }
    const raw = payload.text.trim();
    const parsed = parseCommand(raw);
    if (parsed) {
      const h = commands.get(parsed.word);
      // A slash command nobody knows is not an answer to a question either.
      if (h) {
        delete ctx.session.awaiting;
        return h(ctx, parsed.args);
      }
      if (raw.startsWith('/')) return fallback(ctx, []);
    }
    const awaiting = ctx.session.awaiting;
    const answer = awaiting ? answers.get(awaiting) : undefined;
    if (answer) return answer(ctx, [raw]);
    return fallback(ctx, []);
  }

  return { dispatch, commandWords: () => [...commands.keys()] };
}

/** "/start@kaquan_bot ref_X" -> {word: "start", args: ["ref_X"]}; "购买 2" -> {word: "购买", args: ["2"]}. */
export function parseCommand(text: string): { word: string; args: string[] } | null {
  const parts = text.split(/\s+/).filter(Boolean);
  if (!parts.length) return null;
  const first = parts[0]!.replace(/^\//, '').replace(/@\S+$/, '').toLowerCase();
  return { word: first, args: parts.slice(1) };
}

function add(map: Map<string, Handler>, key: string, h: Handler, feature: string) {
  if (map.has(key)) throw new Error(`bots/core: "${key}" is claimed twice (feature ${feature})`);
  map.set(key, h);
}

/** An error's code for the user (never its message: it may name internal ids). */
export const errorCode = (err: unknown): string => (err instanceof AppError ? err.code : 'INTERNAL');
