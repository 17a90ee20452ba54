import { describe, expect, it } from 'vitest';
import type { ChatPlace } from '../core/types.js';
import { MAX_TEXT, planReply, REVEAL_DATA, revealed, splitText } from './render.js';

const dm: ChatPlace = { channel: 'telegram', chatId: '42', kind: 'private' };
const group: ChatPlace = { channel: 'telegram', chatId: '-100', kind: 'group' };

describe('telegram rendering', () => {
  it('puts a secret behind a spoiler entity (UTF-16 offsets) with the reveal button first', () => {
    const plan = planReply(dm, { text: '已支付 ✅ 🎉', secret: { text: 'ABCD-1234', codeIds: ['cod_1'] }, buttons: [[{ label: 'Menu', data: 'menu' }]] });
    expect(plan.messages).toHaveLength(1);
    const m = plan.messages[0]!;
    if (m.kind !== 'text') throw new Error('text expected');
    const spoiler = m.entities!.find((e) => e.type === 'spoiler')!;
    expect(m.text.slice(spoiler.offset, spoiler.offset + spoiler.length)).toBe('ABCD-1234');
    expect(m.keyboard![0]![0]).toMatchObject({ callback_data: REVEAL_DATA });
    expect(m.keyboard![1]![0]).toMatchObject({ callback_data: 'menu' });
  });

  it('never renders a secret for a group: dropped and reported', () => {
    const plan = planReply(group, { text: 'Paid', secret: { text: 'ABCD-1234', codeIds: ['cod_1'] } });
    expect(JSON.stringify(plan.messages)).not.toContain('ABCD-1234');
    expect(JSON.stringify(plan.messages)).not.toContain(REVEAL_DATA);
    expect(plan.dropped).toEqual([{ what: 'secret', why: expect.any(String), codeIds: ['cod_1'] }]);
  });

  it('drops callback_data over 64 bytes, puts unreachable URLs in the text, and shows an invoice link as a pay button', () => {
    const plan = planReply(dm, { text: 'Pick', buttons: [[{ label: 'ok', data: 'a' }, { label: 'long', data: 'é'.repeat(33) }]], url: { label: 'Poster', href: 'http://localhost:3000/p/1' }, invoiceLink: 'https://t.me/$abc' });
    const m = plan.messages[0]!;
    if (m.kind !== 'text') throw new Error('text expected');
    expect(m.text).toContain('Poster: http://localhost:3000/p/1');
    expect(m.keyboard).toEqual([[{ text: '⭐ Pay with Telegram Stars', url: 'https://t.me/$abc' }], [{ text: 'ok', callback_data: 'a' }]]);
    expect(plan.dropped).toEqual([{ what: 'button', why: expect.stringContaining('66 bytes') }]);
  });

  it('splits long text and long secrets, each secret piece all spoiler', () => {
    const codes = Array.from({ length: 400 }, (_, i) => `CODE-${String(i).padStart(4, '0')}-XXXXXXXX`).join('\n');
    const plan = planReply(dm, { text: 'Your codes', secret: { text: codes, codeIds: [] } });
    expect(plan.messages.length).toBeGreaterThan(2);
    for (const m of plan.messages) if (m.kind === 'text') expect(m.text.length).toBeLessThanOrEqual(MAX_TEXT);
    const pieces = plan.messages.slice(1).map((m) => (m.kind === 'text' ? m.text : ''));
    expect(pieces.join('\n')).toBe(codes);
    expect(splitText('a'.repeat(5000)).map((p) => p.length)).toEqual([4096, 904]);
  });

  it('an image with short text is one photo with the text as caption', () => {
    const plan = planReply(dm, { text: 'Share this', image: { url: 'https://example.com/p.png' }, buttons: [[{ label: 'Menu', data: 'menu' }]] });
    expect(plan.messages).toEqual([{ kind: 'photo', photo: { url: 'https://example.com/p.png' }, caption: 'Share this', keyboard: [[{ text: 'Menu', callback_data: 'menu' }]] }]);
  });

  it('revealed(): same text without spoilers, reveal button gone; nothing to reveal twice', () => {
    const msg = { text: 'Paid\n\nABCD', entities: [{ type: 'spoiler' as const, offset: 6, length: 4 }], reply_markup: { inline_keyboard: [[{ text: 'Reveal', callback_data: REVEAL_DATA }], [{ text: 'Menu', callback_data: 'menu' }]] } };
    const next = revealed(msg)!;
    expect(next).toEqual({ text: 'Paid\n\nABCD', entities: [], keyboard: [[{ text: 'Menu', callback_data: 'menu' }]] });
    expect(revealed({ text: next.text, entities: next.entities })).toBeNull();
  });
});
