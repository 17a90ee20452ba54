import { randomInt } from 'node:crypto';

/**
 * Platform-generated codes: prefix + random characters from a charset, with
 * an optional check character (Luhn mod N) that catches a mistyped character
 * before anything hits the database. At least 60 bits of randomness.
 */
export const charsets = {
  /** digits and upper case without 0/O/1/I/L: read aloud and typed in chats */
  safe: '23456789ABCDEFGHJKMNPQRSTUVWXYZ',
  digits: '0123456789',
  upper: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  alnum: '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ',
} as const;

export interface CodePattern {
  prefix?: string;
  /** a charset name or the characters themselves */
  charset: keyof typeof charsets | string;
  /** random characters (the check character and prefix are extra) */
  length: number;
  checkDigit?: boolean;
  /** insert a dash every N characters of the random part, for reading */
  groupSize?: number;
}

export const MIN_ENTROPY_BITS = 60;

export class PatternError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export function resolveCharset(charset: string): string {
  const named = (charsets as Record<string, string>)[charset];
  const chars = named ?? charset;
  if (new Set(chars).size !== chars.length) throw new PatternError('charset', 'charset repeats a character');
  if (chars.length < 2) throw new PatternError('charset', 'charset needs at least 2 characters');
  if (/[\s-]/.test(chars)) throw new PatternError('charset', 'charset must not contain spaces or dashes');
  return chars;
}

export function entropyBits(pattern: CodePattern): number {
  return pattern.length * Math.log2(resolveCharset(pattern.charset).length);
}

/**
 * Fails before generating anything when the pattern is too weak to be
 * unguessable (< 60 bits) or too small for the count asked (collisions would
 * make generation slow and the codes easier to guess: we want the space at
 * least a million times the number of codes alive).
 */
export function checkPattern(pattern: CodePattern, count: number): void {
  if (!Number.isInteger(pattern.length) || pattern.length < 1 || pattern.length > 64) throw new PatternError('length', 'length must be 1-64');
  if (pattern.prefix !== undefined && !/^[A-Za-z0-9]{0,16}$/.test(pattern.prefix)) throw new PatternError('prefix', 'prefix is up to 16 letters or digits');
  const bits = entropyBits(pattern);
  if (bits < MIN_ENTROPY_BITS) {
    throw new PatternError('length', `pattern has ${bits.toFixed(1)} bits of randomness; at least ${MIN_ENTROPY_BITS} are needed (make it longer or use a larger charset)`);
  }
  if (Math.log2(count) + 20 > bits) throw new PatternError('count', `pattern space (2^${bits.toFixed(1)}) is too small for ${count} codes`);
}

/**
 * Luhn mod N check character over the given characters. Doubling must map
 * the charset onto itself one-to-one or a substitution goes unseen: Luhn's
 * digit-sum folding does that only for an even N; for an odd N (the 31
 * characters of `safe`) doubling modulo N does, and also catches every
 * adjacent transposition.
 */
export function checkCharacter(body: string, chars: string): string {
  const n = chars.length;
  let factor = 2;
  let sum = 0;
  for (let i = body.length - 1; i >= 0; i--) {
    const cp = chars.indexOf(body[i]!);
    if (cp < 0) throw new PatternError('code', `character ${body[i]} is not in the charset`);
    let addend = factor * cp;
    factor = factor === 2 ? 1 : 2;
    addend = n % 2 === 0 ? Math.floor(addend / n) + (addend % n) : addend % n;
    sum += addend;
  }
  return chars[(n - (sum % n)) % n]!;
}

export function generateCode(pattern: CodePattern): string {
  const chars = resolveCharset(pattern.charset);
  let body = '';
  for (let i = 0; i < pattern.length; i++) body += chars[randomInt(chars.length)];
  const full = pattern.checkDigit ? body + checkCharacter(body, chars) : body;
  const grouped = pattern.groupSize ? (full.match(new RegExp(`.{1,${pattern.groupSize}}`, 'g')) ?? [full]).join('-') : full;
  return `${pattern.prefix ?? ''}${grouped}`;
}

/** Strips prefix and dashes and checks the check character: a typo is caught without a lookup. */
export function isWellFormed(code: string, pattern: CodePattern): boolean {
  const chars = resolveCharset(pattern.charset);
  const prefix = pattern.prefix ?? '';
  if (!code.startsWith(prefix)) return false;
  const raw = code.slice(prefix.length).replace(/-/g, '');
  const expectedLength = pattern.length + (pattern.checkDigit ? 1 : 0);
  if (raw.length !== expectedLength || [...raw].some((c) => !chars.includes(c))) return false;
  return pattern.checkDigit ? checkCharacter(raw.slice(0, -1), chars) === raw.slice(-1) : true;
}
