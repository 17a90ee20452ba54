import { describe, expect, it } from 'vitest';
import type { Update } from 'grammy/types';
import { groupText, inboundOf, normaliseCommand } from './inbound.js';

const from = { id: 42, is_bot: false, first_name: 'Bo', language_code: 'zh-hans' };
const message = (text: string, chat: { id: number; type: 'private' | 'supergroup' }, extra: object = {}) => ({ update_id: 9, message: { message_id: 1, date: 0, chat, from, text, ...extra } }) as unknown as Update;

describe('telegram inbound', () => {
  it('maps a private text, a group command and a button press', () => {
    expect(inboundOf(message('/start ref_ABC', { id: 42, type: 'private' }), 'kq_bot')).toEqual({
      messageId: 'u9',
      user: { provider: 'telegram', externalId: '42', displayName: 'Bo', languageHint: 'zh-hans' },
      place: { channel: 'telegram', chatId: '42', kind: 'private' },
      payload: { type: 'text', text: '/start ref_ABC' },
    });
    expect(inboundOf(message('/buy@KQ_bot 2', { id: -100, type: 'supergroup' }), 'kq_bot')).toMatchObject({ place: { kind: 'group', chatId: '-100' }, payload: { text: '/buy 2' } });
    const press = { update_id: 10, callback_query: { id: '1', from, chat_instance: 'x', data: 'buy:q:f:1', message: { message_id: 3, date: 1, chat: { id: -100, type: 'supergroup' } } } } as unknown as Update;
    expect(inboundOf(press, 'kq_bot')).toMatchObject({ payload: { type: 'button', data: 'buy:q:f:1' }, place: { kind: 'group' }, messageId: 'u10' });
  });

  it('in a group, only what is addressed to the bot', () => {
    expect(inboundOf(message('hello everyone', { id: -100, type: 'supergroup' }), 'kq_bot', undefined, 777)).toBeNull();
    expect(inboundOf(message('@kq_bot 菜单', { id: -100, type: 'supergroup' }), 'kq_bot', undefined, 777)).toMatchObject({ payload: { text: '菜单' } });
    expect(inboundOf(message('2', { id: -100, type: 'supergroup' }, { reply_to_message: { from: { id: 777 } } }), 'kq_bot', undefined, 777)).toMatchObject({ payload: { text: '2' } });
    expect(groupText('/help', { username: 'kq_bot' })).toBe('/help');
    expect(normaliseCommand('/buy@other_bot 2', 'kq_bot')).toBeNull();
  });

  it('ignores other bots and non-text messages', () => {
    const bot = { update_id: 11, message: { message_id: 1, date: 0, chat: { id: 42, type: 'private' }, from: { ...from, is_bot: true }, text: 'hi' } } as unknown as Update;
    expect(inboundOf(bot)).toBeNull();
    expect(inboundOf({ update_id: 12, message: { message_id: 1, date: 0, chat: { id: 42, type: 'private' }, from, sticker: {} } } as unknown as Update)).toBeNull();
  });
});
