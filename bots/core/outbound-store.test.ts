import { describe, expect, it } from 'vitest';
import { MasterKeyRing } from '../../src/lib/crypto.js';
import { openReplies, sealReplies } from './outbound-store.js';

const p = { keyRing: MasterKeyRing.parse(`k1:${Buffer.alloc(32, 3).toString('base64')}`) };

describe('outbound replies at rest', () => {
  const replies = [
    { text: 'Your codes', secret: { text: 'CARD-1 SECRET-ABC\nCARD-2 SECRET-DEF', codeIds: ['cod_1', 'cod_2'] } },
    { text: 'Open once', url: { label: 'Reveal', href: 'https://kq.example/r/tok_very_secret' }, image: { png: Buffer.from([137, 80, 78, 71]), caption: 'QR' } },
    { text: 'plain', buttons: [[{ label: 'Menu', data: 'menu' }]] },
  ];

  it('seals secrets and links: the stored JSON holds neither, and opens back to the same replies', () => {
    const stored = sealReplies(p, 'obm_1', replies);
    const json = JSON.stringify(stored);
    for (const clear of ['SECRET-ABC', 'SECRET-DEF', 'tok_very_secret']) expect(json).not.toContain(clear);
    expect(json).toContain('cod_1');
    expect(openReplies(p, 'obm_1', JSON.parse(json))).toEqual(replies);
  });

  it('sealed bytes copied to another message do not open', () => {
    const stored = sealReplies(p, 'obm_1', replies);
    expect(() => openReplies(p, 'obm_2', stored)).toThrow();
  });
});
