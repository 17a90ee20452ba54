import type { Reply } from '../core/types.js';

/**
 * WeChat shows text only: the core's buttons become a numbered menu the user
 * answers by typing the number, links and pictures become lines with their
 * address, and a secret (card codes) is written out in full, but only when the
 * chat is private. The menu is numbered across all replies of one answer, so
 * the adapter can keep one list per user and map "2" back to a button's data.
 */
export interface RenderedAnswer {
  /** One WeChat message per reply, in order. */
  texts: string[];
  /** Button data in menu order: menu[0] is what "1" means. Empty when the answer offers no buttons. */
  menu: string[];
  /** Secrets left out because the chat is a group (the core should never send one there). */
  withheldSecrets: number;
}

export function renderReplies(replies: Reply[], opts: { privateChat: boolean; locale?: string }): RenderedAnswer {
  const texts: string[] = [];
  const menu: string[] = [];
  let withheldSecrets = 0;
  for (const reply of replies) {
    const lines: string[] = [];
    if (reply.text) lines.push(reply.text);
    if (reply.secret) {
      if (opts.privateChat) lines.push(reply.secret.text);
      else withheldSecrets += 1;
    }
    if (reply.url) lines.push(`${reply.url.label}: ${reply.url.href}`);
    if (reply.image?.url) lines.push(reply.image.caption ? `${reply.image.caption}: ${reply.image.url}` : reply.image.url);
    else if (reply.image?.caption) lines.push(reply.image.caption);
    const buttons = (reply.buttons ?? []).flat();
    if (buttons.length > 0) {
      const menuLines = buttons.map((b) => {
        menu.push(b.data);
        return `${menu.length}. ${b.label}`;
      });
      lines.push(menuLines.join('\n'));
      lines.push(menuHint(opts.locale));
    }
    const text = lines.join('\n\n').trim();
    if (text) texts.push(text);
  }
  return { texts, menu, withheldSecrets };
}

const menuHint = (locale?: string) => (locale?.toLowerCase().startsWith('en') ? '(reply with a number)' : '（回复数字选择）');

/**
 * The menu entry a typed answer picks, if it is just a number within the last
 * menu ("2", "２", " 2 "); anything else ("购买 2", "菜单") is a command for
 * the core and passes through unchanged.
 */
export function pickFromMenu(text: string, menu: readonly string[]): string | undefined {
  const t = text.trim().replace(/[０-９]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0));
  if (!/^\d{1,3}$/.test(t)) return undefined;
  return menu[Number(t) - 1];
}

/** Texts a group may address to the bot without mentioning it: slash commands and the Chinese command words. */
const COMMAND_WORDS = ['菜单', '购买', '买', '我的卡券', '卡券', '我的订单', '订单', '佣金', '提现', '团队', '分享', '库存', '兑换', '赠送', '帮助', '开始', '公告', '语言'];

export function looksLikeCommand(text: string): boolean {
  const t = text.trim();
  if (t.startsWith('/')) return true;
  return COMMAND_WORDS.some((w) => t === w || t.startsWith(`${w} `) || t.startsWith(`${w}\u2005`));
}

/** WeChat cuts a text message at 2048 bytes: split an answer on line boundaries (a very long line is cut by characters). */
export function splitForWechat(text: string, maxBytes = 2000): string[] {
  if (Buffer.byteLength(text) <= maxBytes) return [text];
  const parts: string[] = [];
  let current = '';
  const push = () => {
    if (current) parts.push(current);
    current = '';
  };
  for (const line of text.split('\n')) {
    const candidate = current ? `${current}\n${line}` : line;
    if (Buffer.byteLength(candidate) <= maxBytes) {
      current = candidate;
      continue;
    }
    push();
    let rest = line;
    while (Buffer.byteLength(rest) > maxBytes) {
      let cut = Math.min(rest.length, maxBytes);
      while (Buffer.byteLength(rest.slice(0, cut)) > maxBytes) cut -= 1;
      parts.push(rest.slice(0, cut));
      rest = rest.slice(cut);
    }
    current = rest;
  }
  push();
  return parts;
}
