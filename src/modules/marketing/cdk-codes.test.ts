import { describe, expect, it } from 'vitest';
import { AppError } from '../../lib/errors.js';
import { isWellFormed } from '../vault/code-pattern.js';
import { assertPattern, cdkHmac, displayCdk, generateCodes, maskCdk, normalizeCdk } from './cdk-codes.js';

const fieldOf = (f: () => void) => {
  try {
    f();
  } catch (e) {
    return ((e as AppError).details as { field: string }[])[0]!.field;
  }
  return null;
};

describe('CDK text', () => {
  it('one normal form: case, dashes and spaces do not matter to the hash', () => {
    const key = Buffer.alloc(32, 1);
    expect(normalizeCdk(' kq-abcd-2345 ')).toBe('KQABCD2345');
    expect(cdkHmac(key, 'kq-abcd-2345')).toBe(cdkHmac(key, 'KQABCD2345'));
    expect(cdkHmac(key, 'KQABCD2345')).not.toBe(cdkHmac(Buffer.alloc(32, 2), 'KQABCD2345'));
  });

  it('masks to the prefix and the last 4 characters only', () => {
    expect(maskCdk('kq', 'WXYZ')).toBe('KQ****WXYZ');
    expect(maskCdk(undefined, 'WXYZ')).toBe('****WXYZ');
  });

  it('refuses under 60 bits, a space too small for the count, and lower-case charsets, naming the field', () => {
    expect(fieldOf(() => assertPattern({ charset: 'digits', length: 17 }, 1))).toBe('pattern.length');
    expect(fieldOf(() => assertPattern({ charset: 'safe', length: 13 }, 100_000))).toBe('count');
    expect(fieldOf(() => assertPattern({ charset: 'safe', length: 14 }, 100_000))).toBeNull();
    expect(fieldOf(() => assertPattern({ charset: 'abcdefghijklmnopqrstuvwxyz', length: 30 }, 1))).toBe('pattern.charset');
  });

  it('generates distinct, well-formed codes and groups them for display', () => {
    const pattern = { prefix: 'kq', charset: 'safe', length: 14, checkDigit: true, groupSize: 5 };
    const codes = generateCodes(pattern, 2_000);
    expect(new Set(codes).size).toBe(2_000);
    for (const c of codes) {
      expect(c.startsWith('KQ')).toBe(true);
      expect(isWellFormed(c, { ...pattern, prefix: 'KQ', groupSize: undefined })).toBe(true);
      const shown = displayCdk(pattern, c);
      expect(shown).toMatch(/^KQ[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}$/);
      expect(normalizeCdk(shown)).toBe(c);
    }
  });
});
