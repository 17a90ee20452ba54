import { describe, expect, it } from 'vitest';
import { compose, parseCommand } from './engine.js';
import type { Ctx } from './context.js';
import { overlay } from './session.js';

describe('parseCommand', () => {
  it('reads slash commands with a bot name, Chinese words and arguments', () => {
    expect(parseCommand('/start@kaquan_bot ref_ABC')).toEqual({ word: 'start', args: ['ref_ABC'] });
    expect(parseCommand('购买 2')).toEqual({ word: '购买', args: ['2'] });
    expect(parseCommand('  /MENU  ')).toEqual({ word: 'menu', args: [] });
    expect(parseCommand('   ')).toBeNull();
  });
});

describe('compose', () => {
  const reply = (text: string) => async () => [{ text }];
  it('refuses two features claiming the same word or button', () => {
    expect(() => compose([{ name: 'a', commands: { menu: reply('a') } }, { name: 'b', commands: { MENU: reply('b') } }], reply('?'))).toThrow(/claimed twice/);
    expect(() => compose([{ name: 'a', buttons: { x: reply('a') } }, { name: 'b', buttons: { x: reply('b') } }], reply('?'))).toThrow(/claimed twice/);
  });

  it('commands win over a pending question; other text answers it; unknown slash commands do not', async () => {
    const { dispatch } = compose([{ name: 'a', commands: { menu: reply('menu') }, answers: { quantity: async (_c, [t]) => [{ text: `qty ${t}` }] }, buttons: { b: async (_c, args) => [{ text: args.join('|') }] } }], reply('unknown'));
    const ctx = (payload: Ctx['inbound']['payload']) => ({ inbound: { payload }, session: { awaiting: 'quantity' }, t: (k: string) => k }) as unknown as Ctx;
    expect((await dispatch(ctx({ type: 'text', text: '3' })))[0]!.text).toBe('qty 3');
    const c = ctx({ type: 'text', text: '/menu' });
    expect((await dispatch(c))[0]!.text).toBe('menu');
    expect(c.session.awaiting).toBeUndefined();
    expect((await dispatch(ctx({ type: 'text', text: '/nope' })))[0]!.text).toBe('unknown');
    expect((await dispatch(ctx({ type: 'button', data: 'b:1:2' })))[0]!.text).toBe('1|2');
    expect((await dispatch(ctx({ type: 'button', data: 'zz:1' })))[0]!.text).toBe('expired');
  });
});

describe('overlay (a session saved meanwhile by another message)', () => {
  it('keeps the other message\'s keys and lays this message\'s changes over them', () => {
    const before = { locale: 'en' as const, awaiting: 'redeem' as const };
    const mine = { locale: 'en' as const, buy: { id: 'f1' } };
    const fresh = { locale: 'zh-CN' as const, awaiting: 'redeem' as const, seq: 3 };
    expect(overlay(fresh, before, mine)).toEqual({ locale: 'zh-CN', buy: { id: 'f1' }, seq: 3 });
  });
});
