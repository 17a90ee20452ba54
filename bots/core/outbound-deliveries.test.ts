import { describe, expect, it } from 'vitest';
import { chatDeliveryTarget, parseDeliveryTarget } from './outbound-deliveries.js';

describe('chat delivery targets', () => {
  const user = { provider: 'telegram' as const, externalId: '4242' };

  it('an order placed from a group is delivered to the buyer\'s private chat', () => {
    expect(chatDeliveryTarget({ channel: 'telegram', chatId: '-100777', kind: 'group' }, user)).toMatchObject({ channel: 'telegram', chat_id: '4242', kind: 'private' });
  });

  it('reads both the nested and the flat (core place-order) shape', () => {
    const nested = JSON.parse(JSON.stringify(chatDeliveryTarget({ channel: 'telegram', chatId: '4242', kind: 'private' }, user, 'en')));
    expect(parseDeliveryTarget(nested)).toEqual({ channel: 'telegram', chat_id: '4242', kind: 'private', user: { provider: 'telegram', external_id: '4242' }, locale: 'en' });
    expect(parseDeliveryTarget({ channel: 'wechat_oa', chat_id: 'oAbc', provider: 'wechat_openid', external_id: 'oAbc', locale: 'zh-CN' })).toEqual({ channel: 'wechat_oa', chat_id: 'oAbc', kind: 'private', user: { provider: 'wechat_openid', external_id: 'oAbc' }, locale: 'zh-CN' });
  });

  it('refuses a group, an unknown channel or no chat', () => {
    expect(parseDeliveryTarget({ channel: 'telegram', chat_id: '-100', kind: 'group' })).toBeNull();
    expect(parseDeliveryTarget({ channel: 'fax', chat_id: '1' })).toBeNull();
    expect(parseDeliveryTarget({ channel: 'telegram' })).toBeNull();
    expect(parseDeliveryTarget(null)).toBeNull();
  });
});
