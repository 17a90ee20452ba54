import { describe, expect, it } from 'vitest';
import { looksLikeCommand, pickFromMenu, renderReplies, splitForWechat } from './render.js';

describe('WeChat rendering', () => {
  it('numbers buttons across replies and keeps their data in order', () => {
    const r = renderReplies(
      [
        { text: '商品', buttons: [[{ label: '腾讯视频 VIP 月卡', data: 'buy:sku:a' }], [{ label: '爱奇艺月卡', data: 'buy:sku:b' }]] },
        { text: '其它', buttons: [[{ label: '返回', data: 'menu' }]] },
      ],
      { privateChat: true },
    );
    expect(r.texts[0]).toContain('1. 腾讯视频 VIP 月卡\n2. 爱奇艺月卡');
    expect(r.texts[1]).toContain('3. 返回');
    expect(r.menu).toEqual(['buy:sku:a', 'buy:sku:b', 'menu']);
  });

  it('writes a secret only in a private chat', () => {
    const reply = { text: '您的卡密', secret: { text: 'CODE-1234-SECRET', codeIds: ['c1'] } };
    expect(renderReplies([reply], { privateChat: true }).texts[0]).toContain('CODE-1234-SECRET');
    const group = renderReplies([reply], { privateChat: false });
    expect(group.texts.join('\n')).not.toContain('CODE-1234-SECRET');
    expect(group.withheldSecrets).toBe(1);
  });

  it('maps a typed number to the menu, and leaves commands alone', () => {
    const menu = ['buy:sku:a', 'menu'];
    expect(pickFromMenu('2', menu)).toBe('menu');
    expect(pickFromMenu(' １ ', menu)).toBe('buy:sku:a');
    expect(pickFromMenu('3', menu)).toBeUndefined();
    expect(pickFromMenu('购买 2', menu)).toBeUndefined();
    expect(pickFromMenu('0', menu)).toBeUndefined();
  });

  it('recognises the Chinese command words a group may use without a mention', () => {
    for (const t of ['菜单', '购买 2', '我的卡券', '佣金', '提现', '/start ref_AB']) expect(looksLikeCommand(t)).toBe(true);
    for (const t of ['大家好', '2', '今天买了什么']) expect(looksLikeCommand(t)).toBe(false);
  });

  it('splits long answers under the 2048-byte limit without losing text', () => {
    const lines = Array.from({ length: 200 }, (_, i) => `卡密 ${i}: ABCD-EFGH-${i}`);
    const parts = splitForWechat(lines.join('\n'));
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) expect(Buffer.byteLength(part)).toBeLessThanOrEqual(2000);
    expect(parts.join('\n')).toBe(lines.join('\n'));
  });
});
