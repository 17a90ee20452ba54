import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { maskPhone, maskPhonesInText, maskSecret } from './mask.js';

describe('maskPhone', () => {
  it.each([
    ['13812341234', '138****1234'],
    ['+8613812341234', '+86138****1234'],
    ['8613812341234', '86138****1234'],
    ['138 1234 1234', '138****1234'],
    ['138-1234-1234', '138****1234'],
    ['+86 138-1234-1234', '+86138****1234'],
    ['19900001111', '199****1111'],
  ])('%s -> %s', (phone, masked) => {
    expect(maskPhone(phone)).toBe(masked);
  });

  it('hides the four digits before the last four', () => {
    const masked = maskPhone('13899995678');
    expect(masked).not.toContain('9999');
    expect(masked.endsWith('5678')).toBe(true);
  });

  it.each(['', '1', '12345', '123456'])('masks short value %j completely', (phone) => {
    expect(maskPhone(phone)).toBe('*'.repeat(phone.length));
  });

  it('masks an 8-digit number to its last four', () => {
    expect(maskPhone('12345678')).toBe('****5678');
  });

  // BUG (src/lib/mask.ts, lines 6-7): for exactly 7 characters
  // `digits.slice(0, digits.length - 8)` is `slice(0, -1)`, i.e. the first
  // six digits, so maskPhone('1234567') returns '123456****4567': every digit
  // is shown and nothing is hidden. Lengths 7 (and anything below 8) need the
  // prefix clamped to 0: slice(0, Math.max(0, digits.length - 8)).
  it('does not reveal a 7-digit number', () => {
    const masked = maskPhone('1234567');
    expect(masked).toContain('*');
    expect(masked).not.toContain('123');
    expect(masked.replace(/\*/g, '').length).toBeLessThanOrEqual(4);
  });

  it('property: an 11-digit mobile keeps 3 + 4 digits and hides 4', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^1[3-9]\d{9}$/), (phone) => {
        const masked = maskPhone(phone);
        expect(masked).toBe(`${phone.slice(0, 3)}****${phone.slice(7)}`);
        expect(masked).toHaveLength(11);
      }),
    );
  });

  it('property: never shows more than the last 4 digits plus a prefix of length - 8 (>= 8 digits)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{8,20}$/), (phone) => {
        const masked = maskPhone(phone);
        expect(masked).toBe(`${phone.slice(0, phone.length - 8)}****${phone.slice(-4)}`);
      }),
    );
  });
});

describe('maskSecret', () => {
  it.each([
    ['ABCD-EFGH-1234', '********1234'],
    ['abcdefgh', '****efgh'],
    ['abcde', '*bcde'],
    ['abcd', '****'],
    ['abc', '***'],
    ['', ''],
    ['x'.repeat(100) + 'WXYZ', '********WXYZ'],
  ])('%j -> %j', (secret, masked) => {
    expect(maskSecret(secret)).toBe(masked);
  });

  it('property: shows only the last 4 characters and at most 8 stars', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 5, maxLength: 64 }), (secret) => {
        const masked = maskSecret(secret);
        expect(masked.endsWith(secret.slice(-4))).toBe(true);
        const stars = masked.slice(0, -4);
        expect(stars).toMatch(/^\*{1,8}$/);
        expect(stars.length).toBe(Math.min(8, secret.length - 4));
      }),
    );
  });

  it('property: secrets of 4 characters or fewer are fully hidden', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 4 }), (secret) => {
        expect(maskSecret(secret)).toBe('*'.repeat(secret.length));
      }),
    );
  });

  it('does not reveal the length of long secrets', () => {
    expect(maskSecret('a'.repeat(20) + '1234')).toBe(maskSecret('b'.repeat(50) + '1234'));
  });
});

describe('maskPhonesInText', () => {
  it('masks a phone number inside free text', () => {
    expect(maskPhonesInText('call 13812341234 now')).toBe('call 138****1234 now');
    expect(maskPhonesInText('手机号13812341234，请回电')).toBe('手机号138****1234，请回电');
    expect(maskPhonesInText('phone=13812341234&x=1')).toBe('phone=138****1234&x=1');
  });

  it('masks the whole text when it is just a number', () => {
    expect(maskPhonesInText('13812341234')).toBe('138****1234');
  });

  it('keeps the country code', () => {
    expect(maskPhonesInText('tel +8613812341234.')).toBe('tel +86138****1234.');
    expect(maskPhonesInText('tel 8613812341234')).toBe('tel 86138****1234');
    expect(maskPhonesInText('tel +86 13812341234')).toBe('tel +86 138****1234');
  });

  it('masks every number in the text', () => {
    expect(maskPhonesInText('a 13812341234, b 15900001111; c 19955556666')).toBe('a 138****1234, b 159****1111; c 199****6666');
  });

  it('leaves longer digit runs such as order numbers alone', () => {
    const order = '20240101138123412345'; // 20 digits with a phone-like run inside
    expect(order).toHaveLength(20);
    expect(maskPhonesInText(`order ${order} paid`)).toBe(`order ${order} paid`);
    expect(maskPhonesInText('x13812341234567')).toBe('x13812341234567'); // 14 digits
    expect(maskPhonesInText('913812341234')).toBe('913812341234'); // 12 digits
    expect(maskPhonesInText('138123412345')).toBe('138123412345'); // 12 digits starting like a phone
  });

  it('leaves numbers that are not mainland mobiles alone', () => {
    expect(maskPhonesInText('12812341234')).toBe('12812341234'); // second digit 2
    expect(maskPhonesInText('23812341234')).toBe('23812341234');
    expect(maskPhonesInText('1381234123')).toBe('1381234123'); // 10 digits
    expect(maskPhonesInText('amount 123.45 yuan')).toBe('amount 123.45 yuan');
    expect(maskPhonesInText('')).toBe('');
  });

  it('is stateless across calls (global regex lastIndex)', () => {
    for (let i = 0; i < 3; i++) expect(maskPhonesInText('13812341234')).toBe('138****1234');
  });

  it('property: any mobile between non-digits is masked, and the text around it is kept', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[^0-9]{0,10}$/),
        fc.stringMatching(/^1[3-9]\d{9}$/),
        fc.stringMatching(/^[^0-9]{0,10}$/),
        (before, phone, after) => {
          const masked = maskPhonesInText(`${before}${phone}${after}`);
          expect(masked).toBe(`${before}${phone.slice(0, 3)}****${phone.slice(7)}${after}`);
          expect(masked).not.toContain(phone);
        },
      ),
    );
  });

  it('property: digit runs longer than 13 are never changed', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{14,30}$/), (digits) => {
        expect(maskPhonesInText(`id ${digits} end`)).toBe(`id ${digits} end`);
      }),
    );
  });
});
