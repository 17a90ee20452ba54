import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { MoneyError, allocate, applyBasisPoints, assertFen, formatFen, parseYuan, toYuanString } from './money.js';

/** Largest amount parseYuan accepts: 13 whole digits and two decimals. */
const MAX_PARSEABLE = 999_999_999_999_999;

describe('assertFen', () => {
  it('returns safe integers unchanged', () => {
    expect(assertFen(0)).toBe(0);
    expect(assertFen(-5)).toBe(-5);
    expect(assertFen(Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
    expect(assertFen(Number.MIN_SAFE_INTEGER)).toBe(Number.MIN_SAFE_INTEGER);
  });

  it.each([0.5, -1.25, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER + 1, 2 ** 60])('refuses %s', (v) => {
    expect(() => assertFen(v)).toThrow(MoneyError);
  });

  it('names what was checked in the message', () => {
    expect(() => assertFen(1.5, 'price')).toThrow(/^price must be an integer number of fen, got 1\.5$/);
    expect(() => assertFen(1.5)).toThrow(/^amount /);
  });
});

describe('parseYuan', () => {
  it.each([
    ['12.3', 1230],
    ['12.30', 1230],
    ['-0.05', -5],
    ['7', 700],
    ['0', 0],
    ['0.01', 1],
    ['0.1', 10],
    ['-12.34', -1234],
    ['007.5', 750],
    ['  42.42\n', 4242],
    ['9999999999999.99', MAX_PARSEABLE],
    ['-9999999999999.99', -MAX_PARSEABLE],
  ])('parses %j as %i fen', (text, fen) => {
    expect(parseYuan(text)).toBe(fen);
  });

  it.each([
    '',
    ' ',
    '1.234',
    '1.',
    '.5',
    '+5',
    '--5',
    '1,000',
    '1e3',
    '0x10',
    'abc',
    '12.3元',
    '¥12.30',
    '１２', // full-width digits
    '12 .30',
    'NaN',
    'Infinity',
    '10000000000000', // 14 whole digits
    '-',
  ])('refuses %j', (text) => {
    expect(() => parseYuan(text)).toThrow(MoneyError);
  });

  it('quotes the bad input in the error', () => {
    expect(() => parseYuan('1.234')).toThrow('not a yuan amount: "1.234"');
  });

  it('never uses a float: amounts near the limit are exact', () => {
    expect(parseYuan('1234567890123.45')).toBe(123456789012345);
    expect(Number.isSafeInteger(parseYuan('9999999999999.99'))).toBe(true);
  });

  it('"-0" and "-0.00" compare equal to 0', () => {
    // Note: the result is -0 (Object.is(-0, 0) is false); harmless for
    // arithmetic, JSON and SQL parameters, which all print it as 0.
    expect(parseYuan('-0') === 0).toBe(true);
    expect(parseYuan('-0.00') === 0).toBe(true);
    expect(toYuanString(parseYuan('-0.00'))).toBe('0.00');
  });

  it('property: always returns a safe integer or throws MoneyError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        try {
          expect(Number.isSafeInteger(parseYuan(s))).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(MoneyError);
        }
      }),
    );
  });
});

describe('toYuanString', () => {
  it.each([
    [1230, '12.30'],
    [0, '0.00'],
    [1, '0.01'],
    [10, '0.10'],
    [99, '0.99'],
    [100, '1.00'],
    [-5, '-0.05'],
    [-1234, '-12.34'],
    [-100, '-1.00'],
    [123456789, '1234567.89'],
    [Number.MAX_SAFE_INTEGER, '90071992547409.91'],
  ])('%i -> %s', (fen, text) => {
    expect(toYuanString(fen)).toBe(text);
  });

  it.each([1.5, NaN, Infinity, 2 ** 53])('refuses %s', (v) => {
    expect(() => toYuanString(v)).toThrow(MoneyError);
  });

  it('property: parseYuan(toYuanString(x)) === x over the parseable range', () => {
    fc.assert(
      fc.property(fc.integer({ min: -MAX_PARSEABLE, max: MAX_PARSEABLE }), (x) => {
        expect(parseYuan(toYuanString(x)) === x).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('property: round trip for small amounts (cents matter most)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -100_000, max: 100_000 }), (x) => {
        expect(parseYuan(toYuanString(x)) === x).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('property: always exactly two decimals', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (x) => {
        expect(toYuanString(x)).toMatch(/^-?\d+\.\d{2}$/);
      }),
    );
  });
});

describe('formatFen', () => {
  it.each([
    [123456, '¥1,234.56'],
    [0, '¥0.00'],
    [5, '¥0.05'],
    [99999, '¥999.99'],
    [100000, '¥1,000.00'],
    [-123456, '-¥1,234.56'],
    [-5, '-¥0.05'],
    [123456789012, '¥1,234,567,890.12'],
    [100000000, '¥1,000,000.00'],
  ])('%i -> %s', (fen, text) => {
    expect(formatFen(fen)).toBe(text);
  });

  it('takes another currency sign', () => {
    expect(formatFen(123456, '$')).toBe('$1,234.56');
    expect(formatFen(-100, '')).toBe('-1.00');
  });

  it('refuses non-integers', () => {
    expect(() => formatFen(1.5)).toThrow(MoneyError);
    expect(() => formatFen(NaN)).toThrow(MoneyError);
  });

  it('property: removing sign and commas gives toYuanString', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (x) => {
        const shown = formatFen(x);
        expect(shown).toMatch(/^-?¥\d{1,3}(,\d{3})*\.\d{2}$/);
        expect(shown.replace('¥', '').replace(/,/g, '')).toBe(toYuanString(x));
      }),
    );
  });
});

describe('applyBasisPoints', () => {
  it.each([
    // [fen, bp, expected]
    [10000, 10000, 10000],
    [10000, 0, 0],
    [10000, 250, 250], // 2.5 %
    [12345, 100, 123], // 123.45 -> 123
    [12350, 100, 124], // 123.5 -> 124 (half away from zero)
    [12349, 100, 123], // 123.49 -> 123
    [-12350, 100, -124], // -123.5 -> -124 (half away from zero)
    [-12349, 100, -123],
    [12350, -100, -124],
    [-12350, -100, 124],
    [1, 5000, 1], // 0.5 -> 1
    [1, 4999, 0], // 0.4999 -> 0
    [-1, 5000, -1], // -0.5 -> -1
    [3, 3333, 1], // 0.9999 -> 1
    [100, 15000, 150], // 150 %
    [0, 1234, 0],
  ])('applyBasisPoints(%i, %i) = %i', (fen, bp, expected) => {
    expect(applyBasisPoints(fen, bp)).toBe(expected);
  });

  it('is exact for amounts where a float product would lose precision', () => {
    // 2^53 - 1 times 3 is far past float precision; BigInt keeps it exact.
    expect(applyBasisPoints(Number.MAX_SAFE_INTEGER, 3)).toBe(Number((BigInt(Number.MAX_SAFE_INTEGER) * 3n + 5000n) / 10000n));
    // 0.5 boundary that floats get wrong: 1.005 yuan * 50 %
    expect(applyBasisPoints(1005, 5000)).toBe(503);
  });

  it('refuses non-integer amounts or rates', () => {
    expect(() => applyBasisPoints(1.5, 100)).toThrow(MoneyError);
    expect(() => applyBasisPoints(100, 1.5)).toThrow(MoneyError);
    expect(() => applyBasisPoints(100, NaN)).toThrow(MoneyError);
    expect(() => applyBasisPoints(100, Infinity)).toThrow('basis points must be an integer');
  });

  it('property: 10000 bp is the identity', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (x) => {
        expect(applyBasisPoints(x, 10000)).toBe(x);
      }),
    );
  });

  it('property: 0 bp gives zero', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (x) => {
        expect(applyBasisPoints(x, 0) === 0).toBe(true);
      }),
    );
  });

  it('property: symmetric in sign (rounding half away from zero)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e12, max: 1e12 }), fc.integer({ min: -20000, max: 20000 }), (x, bp) => {
        expect(applyBasisPoints(-x, bp) === -applyBasisPoints(x, bp)).toBe(true);
      }),
    );
  });

  it('property: equals the exactly rounded rational result', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e12 }), fc.integer({ min: 0, max: 20000 }), (x, bp) => {
        // For non-negative values, half away from zero is floor(p / 10000 + 1/2).
        const expected = (BigInt(x) * BigInt(bp) * 2n + 10000n) / 20000n;
        expect(applyBasisPoints(x, bp)).toBe(Number(expected));
      }),
    );
  });

  it('property: never further than half a fen from the exact value', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e9, max: 1e9 }), fc.integer({ min: -10000, max: 10000 }), (x, bp) => {
        const exact = (x * bp) / 10000; // safe: |x * bp| < 2^53
        expect(Math.abs(applyBasisPoints(x, bp) - exact)).toBeLessThanOrEqual(0.5);
      }),
    );
  });
});

describe('allocate', () => {
  it.each([
    [100, [1, 1, 1], [34, 33, 33]],
    [100, [1, 1], [50, 50]],
    [101, [1, 1], [51, 50]],
    [10, [1, 2, 3, 4], [1, 2, 3, 4]],
    [1, [1, 1, 1], [1, 0, 0]],
    [0, [1, 1, 1], [0, 0, 0]],
    [100, [1], [100]],
    [100, [0, 1], [0, 100]],
    [100, [70, 30], [70, 30]],
    [-100, [1, 1, 1], [-34, -33, -33]],
    [-1, [1, 1], [-1, 0]],
    [5, [0.5, 0.5], [3, 2]],
  ])('allocate(%i, %j) = %j', (fen, weights, expected) => {
    // `+ 0` turns the -0 that Math.trunc gives for small negative shares into 0.
    expect(allocate(fen, weights).map((p) => p + 0)).toEqual(expected);
  });

  it('refuses weights that do not sum to a positive number', () => {
    expect(() => allocate(100, [])).toThrow(MoneyError);
    expect(() => allocate(100, [0, 0])).toThrow('weights must sum to a positive number');
    expect(() => allocate(100, [-1, -2])).toThrow(MoneyError);
    expect(() => allocate(100, [1, -1])).toThrow(MoneyError);
  });

  it('refuses a non-integer amount', () => {
    expect(() => allocate(1.5, [1])).toThrow(MoneyError);
  });

  it('does not change the weights array', () => {
    const weights = [1, 2, 3];
    allocate(100, weights);
    expect(weights).toEqual([1, 2, 3]);
  });

  it('property: parts always sum to the amount and are integers', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1e9, max: 1e9 }),
        fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 20 }).filter((w) => w.some((x) => x > 0)),
        (fen, weights) => {
          const parts = allocate(fen, weights);
          expect(parts).toHaveLength(weights.length);
          expect(parts.every(Number.isSafeInteger)).toBe(true);
          expect(parts.reduce((a, b) => a + b, 0)).toBe(fen);
        },
      ),
    );
  });

  it('property: equal weights give parts that differ by at most 1, larger first', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e9, max: 1e9 }), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 100 }), (fen, n, w) => {
        const parts = allocate(fen, Array<number>(n).fill(w));
        expect(parts.reduce((a, b) => a + b, 0)).toBe(fen);
        expect(Math.max(...parts) - Math.min(...parts)).toBeLessThanOrEqual(1);
        // the remainder goes to the first parts
        const abs = parts.map(Math.abs);
        for (let i = 1; i < abs.length; i++) expect(abs[i]!).toBeLessThanOrEqual(abs[i - 1]!);
      }),
    );
  });

  it('property: each part is within 1 fen of its exact proportional share', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e9 }),
        fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 20 }).filter((w) => w.some((x) => x > 0)),
        (fen, weights) => {
          const total = weights.reduce((a, b) => a + b, 0);
          const parts = allocate(fen, weights);
          parts.forEach((p, i) => {
            expect(Math.abs(p - (fen * weights[i]!) / total)).toBeLessThan(1 + 1e-6);
          });
        },
      ),
    );
  });

  it('property: zero weight gets zero when the amount is non-negative and some weight is positive', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 1, max: 100 }), (fen, w) => {
        expect(allocate(fen, [0, w, 0])).toEqual([0, fen, 0]);
      }),
    );
  });

  // BUG (src/lib/money.ts, allocate, lines 60-64): the remainder is handed out
  // round-robin from index 0 without looking at the weights, so a party with
  // weight 0 can receive money: allocate(10, [0, 1, 1, 1]) gives [1, 3, 3, 3].
  // A zero weight should always get 0 (e.g. give the remainder only to
  // positive weights, largest fractional part first).
  it('never gives anything to a zero weight', () => {
    expect(allocate(10, [0, 1, 1, 1])).toEqual([0, 4, 3, 3]);
  });

  // BUG (src/lib/money.ts, allocate, lines 58-65): the guard `total <= 0` is
  // false for NaN, so a NaN (or Infinity) weight is accepted; every part is
  // NaN, `rest` is NaN, and the loop `for (...; rest !== 0; ...)` never ends:
  // allocate(100, [NaN]) hangs the process instead of throwing MoneyError.
  // Run in a child process with a time limit so the hang cannot block the suite.
  it('refuses a NaN or Infinity weight instead of looping forever', () => {
    const moneyTs = fileURLToPath(new URL('./money.ts', import.meta.url));
    const script = `
      const { allocate, MoneyError } = await import(${JSON.stringify(moneyTs)});
      for (const w of [[NaN], [1, NaN], [Infinity]]) {
        try { allocate(100, w); console.log('returned'); process.exit(2); }
        catch (e) { if (!(e instanceof MoneyError)) process.exit(3); }
      }
      process.exit(0);`;
    const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      timeout: 3000,
      encoding: 'utf8',
    });
    expect(res.signal).toBeNull(); // killed by the time limit = infinite loop
    expect(res.status).toBe(0);
  });
});
