import { describe, expect, it } from 'vitest';
import { checkQrToken, signQrToken } from './qr-token.js';

const key = Buffer.alloc(32, 3);
const id = 'rqt_01J0000000000000000000000Z';

describe('redemption QR tokens', () => {
  it('a signed token checks out until it expires', () => {
    const now = new Date('2026-05-01T10:00:00Z');
    const token = signQrToken(key, id, new Date(now.getTime() + 5 * 60_000));
    expect(checkQrToken(key, token, now)).toMatchObject({ ok: true, id });
    expect(checkQrToken(key, token, new Date(now.getTime() + 5 * 60_000))).toEqual({ ok: false, reason: 'expired' });
  });

  it('an altered expiry, another key or garbage is refused', () => {
    const now = new Date('2026-05-01T10:00:00Z');
    const token = signQrToken(key, id, new Date(now.getTime() + 60_000));
    const [prefix, tid, exp, sig] = token.split('.');
    expect(checkQrToken(key, [prefix, tid, String(Number(exp) + 3600), sig].join('.'), now)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(checkQrToken(Buffer.alloc(32, 4), token, now)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(checkQrToken(key, 'KQR1.nonsense', now)).toEqual({ ok: false, reason: 'malformed' });
  });
});
