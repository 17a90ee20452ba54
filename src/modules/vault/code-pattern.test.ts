import { describe, expect, it } from 'vitest';
import { MIN_ENTROPY_BITS, PatternError, charsets, checkCharacter, checkPattern, entropyBits, generateCode, isWellFormed, resolveCharset, type CodePattern } from './code-pattern.js';

function patternError(fn: () => unknown): PatternError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PatternError) return e;
    throw e;
  }
  throw new Error('expected a PatternError');
}

const good: CodePattern = { prefix: 'KQ', charset: 'safe', length: 14, checkDigit: true, groupSize: 4 };

/** The code without prefix and dashes: the random part and the check character. */
const rawOf = (code: string, prefix = '') => code.slice(prefix.length).replace(/-/g, '');

describe('checkPattern: refuses weak patterns before generating anything', () => {
  it('12 digits (39.9 bits) fails on length, naming the bits', () => {
    const e = patternError(() => checkPattern({ charset: 'digits', length: 12 }, 1));
    expect(e.field).toBe('length');
    expect(e.message).toBe('pattern has 39.9 bits of randomness; at least 60 are needed (make it longer or use a larger charset)');
  });

  it('the 60-bit line: 18 digits (59.8 bits) fails, 19 digits (63.1 bits) passes', () => {
    expect(MIN_ENTROPY_BITS).toBe(60);
    expect(entropyBits({ charset: 'digits', length: 18 })).toBeCloseTo(59.795, 3);
    expect(patternError(() => checkPattern({ charset: 'digits', length: 18 }, 1)).field).toBe('length');
    expect(() => checkPattern({ charset: 'digits', length: 19 }, 1)).not.toThrow();
    expect(entropyBits({ charset: 'safe', length: 13 })).toBeCloseTo(64.405, 3);
    expect(entropyBits({ charset: 'ABCD', length: 30 })).toBe(60);
    expect(() => checkPattern({ charset: 'ABCD', length: 30 }, 1)).not.toThrow();
    expect(patternError(() => checkPattern({ charset: 'ABCD', length: 29 }, 1)).field).toBe('length');
  });

  it('fails when the space is too small for the count (a million times the count is needed)', () => {
    // safe x 13 = 2^64.4: room for 2^44 codes, not 2^45
    expect(() => checkPattern({ charset: 'safe', length: 13 }, 2 ** 44)).not.toThrow();
    const e = patternError(() => checkPattern({ charset: 'safe', length: 13 }, 2 ** 45));
    expect(e.field).toBe('count');
    expect(e.message).toBe(`pattern space (2^64.4) is too small for ${2 ** 45} codes`);
  });

  it('refuses bad lengths, prefixes and charsets, naming the field', () => {
    expect(patternError(() => checkPattern({ charset: 'safe', length: 0 }, 1)).field).toBe('length');
    expect(patternError(() => checkPattern({ charset: 'safe', length: 65 }, 1)).field).toBe('length');
    expect(patternError(() => checkPattern({ charset: 'safe', length: 13.5 }, 1)).field).toBe('length');
    expect(patternError(() => checkPattern({ ...good, prefix: 'KQ-' }, 1)).field).toBe('prefix');
    expect(patternError(() => checkPattern({ ...good, prefix: 'A'.repeat(17) }, 1)).field).toBe('prefix');
    expect(patternError(() => checkPattern({ charset: 'ABCA', length: 40 }, 1))).toMatchObject({ field: 'charset', message: 'charset repeats a character' });
    expect(patternError(() => checkPattern({ charset: 'A', length: 40 }, 1))).toMatchObject({ field: 'charset', message: 'charset needs at least 2 characters' });
    expect(patternError(() => checkPattern({ charset: 'AB-', length: 40 }, 1))).toMatchObject({ field: 'charset', message: 'charset must not contain spaces or dashes' });
    expect(patternError(() => checkPattern({ charset: 'AB C', length: 40 }, 1)).field).toBe('charset');
    expect(() => checkPattern(good, 1_000_000)).not.toThrow();
  });

  it('named charsets resolve to their characters; anything else is taken literally', () => {
    expect(resolveCharset('safe')).toBe('23456789ABCDEFGHJKMNPQRSTUVWXYZ');
    expect(resolveCharset('digits')).toBe('0123456789');
    expect(resolveCharset('XYZ')).toBe('XYZ');
    expect(charsets.safe).not.toMatch(/[01OIL]/);
  });
});

describe('check character', () => {
  it('is the classic Luhn digit for digits (7992739871 -> 3)', () => {
    expect(checkCharacter('7992739871', charsets.digits)).toBe('3');
    expect(isWellFormed('79927398713', { charset: 'digits', length: 10, checkDigit: true })).toBe(true);
    expect(isWellFormed('79927398710', { charset: 'digits', length: 10, checkDigit: true })).toBe(false);
  });

  it('refuses a character outside the charset', () => {
    expect(patternError(() => checkCharacter('AB1', charsets.safe))).toMatchObject({ field: 'code', message: 'character 1 is not in the charset' });
  });

  it('safe charset: every single-character substitution and every adjacent transposition in a sample is caught', () => {
    const chars = charsets.safe;
    let substitutions = 0;
    let transpositions = 0;
    for (let n = 0; n < 60; n++) {
      const code = generateCode(good);
      const raw = rawOf(code, 'KQ');
      expect(raw).toHaveLength(15);
      expect(isWellFormed(code, good)).toBe(true);
      for (let i = 0; i < raw.length; i++) {
        for (const c of chars) {
          if (c === raw[i]) continue;
          const typo = `KQ${raw.slice(0, i)}${c}${raw.slice(i + 1)}`;
          substitutions++;
          expect(isWellFormed(typo, good), `${raw} -> ${typo}`).toBe(false);
        }
        if (i + 1 < raw.length && raw[i] !== raw[i + 1]) {
          const swapped = `KQ${raw.slice(0, i)}${raw[i + 1]}${raw[i]}${raw.slice(i + 2)}`;
          transpositions++;
          expect(isWellFormed(swapped, good), `${raw} -> ${swapped}`).toBe(false);
        }
      }
    }
    expect(substitutions).toBe(60 * 15 * 30);
    expect(transpositions).toBeGreaterThan(60 * 12);
  });

  it('every pair of characters of every charset: a substitution is always caught, at odd and even positions', () => {
    for (const chars of Object.values(charsets)) {
      for (const body of [`${chars[3]}${chars[5]}`, `${chars[3]}${chars[5]}${chars[7]}`]) {
        for (let i = 0; i < body.length; i++) {
          const seen = new Map<string, string>();
          for (const c of chars) {
            const check = checkCharacter(body.slice(0, i) + c + body.slice(i + 1), chars);
            expect(seen.get(check), `${chars}: position ${i}, ${c} and ${seen.get(check)} give the same check`).toBeUndefined();
            seen.set(check, c);
          }
          expect(seen.size).toBe(chars.length);
        }
      }
    }
  });

  it('digits (even N): the one blind spot of Luhn is the 0<->9 transposition; every other adjacent swap is caught', () => {
    const pattern: CodePattern = { charset: 'digits', length: 20, checkDigit: true };
    const missed = new Set<string>();
    for (let n = 0; n < 100; n++) {
      const raw = generateCode(pattern);
      for (let i = 0; i + 1 < raw.length; i++) {
        if (raw[i] === raw[i + 1]) continue;
        const swapped = `${raw.slice(0, i)}${raw[i + 1]}${raw[i]}${raw.slice(i + 2)}`;
        if (isWellFormed(swapped, pattern)) missed.add([raw[i], raw[i + 1]].sort().join(''));
      }
    }
    expect([...missed].filter((m) => m !== '09')).toEqual([]);
  });
});

describe('generated codes', () => {
  const safe = '[23456789ABCDEFGHJKMNPQRSTUVWXYZ]';

  it('have the prefix, dashes every 4 characters, the check character and the right length', () => {
    for (let i = 0; i < 200; i++) {
      const code = generateCode(good);
      expect(code).toMatch(new RegExp(`^KQ${safe}{4}-${safe}{4}-${safe}{4}-${safe}{3}$`));
      expect(code).toHaveLength(2 + 15 + 3);
      const raw = rawOf(code, 'KQ');
      expect(raw.slice(-1)).toBe(checkCharacter(raw.slice(0, -1), charsets.safe));
      expect(isWellFormed(code, good)).toBe(true);
    }
  });

  it('without grouping, prefix or check character: just the random characters', () => {
    const p: CodePattern = { charset: 'alnum', length: 16 };
    const code = generateCode(p);
    expect(code).toMatch(/^[0-9A-Z]{16}$/);
    expect(isWellFormed(code, p)).toBe(true);
    expect(generateCode({ charset: 'ABCDEF', length: 24, groupSize: 8 })).toMatch(/^[A-F]{8}-[A-F]{8}-[A-F]{8}$/);
  });

  it('isWellFormed refuses a wrong prefix, a wrong length, lower case and foreign characters', () => {
    const code = generateCode(good);
    const raw = rawOf(code, 'KQ');
    expect(isWellFormed(`KQ${raw}`, good)).toBe(true); // dashes are optional when typed
    expect(isWellFormed(`XX${raw}`, good)).toBe(false);
    expect(isWellFormed(raw, good)).toBe(false);
    expect(isWellFormed(`KQ${raw.slice(0, -1)}`, good)).toBe(false);
    expect(isWellFormed(`KQ${raw}2`, good)).toBe(false);
    expect(isWellFormed(`KQ${raw.toLowerCase()}`, good)).toBe(raw === raw.toLowerCase());
    expect(isWellFormed(`KQ0${raw.slice(1)}`, good)).toBe(false); // 0 is not in the safe charset
  });

  it('10,000 generated codes are distinct and all well-formed', () => {
    const codes = new Set<string>();
    for (let i = 0; i < 10_000; i++) codes.add(generateCode(good));
    expect(codes.size).toBe(10_000);
    expect([...codes].filter((c) => !isWellFormed(c, good))).toEqual([]);
  });
});
