import { hmacSha256Hex } from '../../lib/crypto.js';
import { AppError } from '../../lib/errors.js';
import { PatternError, checkPattern, entropyBits, generateCode, resolveCharset, type CodePattern } from '../vault/code-pattern.js';

/** log2 of (pattern space / live codes): the odds against one random guess hitting some code. */
export const GUESS_MARGIN_BITS = 48;

/**
 * Redemption codes as text: the one normal form (upper case, no dashes or
 * spaces) that is hashed for lookup, and the masked form shown to anyone
 * without the clear-export permission. Codes are typed by people: charsets
 * are upper case only, so lower-case typing still finds the code.
 */
export function normalizeCdk(raw: string): string {
  return raw.replace(/[\s-]/g, '').toUpperCase();
}

/** The keyed hash that finds a code without storing it (its own domain: a CDK and a vault secret never hash alike). */
export function cdkHmac(hmacKey: Buffer, code: string): string {
  return hmacSha256Hex(hmacKey, `cdk:${normalizeCdk(code)}`);
}

/**
 * ABCD****WXYZ: the batch prefix (not secret), then the last 4 characters.
 * Never more than 4 random characters, so a masked list leaves at least
 * 40 of the 60+ bits unknown.
 */
export function maskCdk(prefix: string | undefined, last4: string): string {
  return `${(prefix ?? '').toUpperCase()}****${last4}`;
}

/** Validates a pattern for a count (>= 60 bits; a space a million times the count), as a 422 naming the field. */
export function assertPattern(pattern: CodePattern, count: number): void {
  try {
    const chars = resolveCharset(pattern.charset);
    if (chars !== chars.toUpperCase()) throw new PatternError('charset', 'charset must not contain lower-case letters (codes are matched case-insensitively)');
    checkPattern(pattern, count);
    // A guess must stay hopeless however many codes are alive: at most one chance in 2^48 per attempt.
    const spare = entropyBits(pattern) - Math.log2(count);
    if (spare < GUESS_MARGIN_BITS) throw new PatternError('count', `pattern space (2^${entropyBits(pattern).toFixed(1)}) is too small for ${count} codes: one guess in 2^${spare.toFixed(1)} would hit; at least 2^${GUESS_MARGIN_BITS} is needed (make the codes longer)`);
  } catch (e) {
    if (e instanceof PatternError) {
      const field = e.field === 'count' ? 'count' : `pattern.${e.field}`;
      throw new AppError('UNPROCESSABLE', `${field}: ${e.message}`, [{ field, message: e.message }]);
    }
    throw e;
  }
}

/** `n` distinct codes of the pattern, normalized (prefix upper-cased, no dashes): what is hashed, sealed and exported. */
export function generateCodes(pattern: CodePattern, n: number): string[] {
  const out = new Set<string>();
  const plain = { ...pattern, groupSize: undefined, prefix: pattern.prefix?.toUpperCase() };
  while (out.size < n) out.add(generateCode(plain));
  return [...out];
}

/** The code as handed out: dashes every groupSize characters of the part after the prefix. */
export function displayCdk(pattern: Pick<CodePattern, 'prefix' | 'groupSize'>, normalized: string): string {
  const prefix = (pattern.prefix ?? '').toUpperCase();
  if (!pattern.groupSize) return normalized;
  const body = normalized.slice(prefix.length);
  return prefix + (body.match(new RegExp(`.{1,${pattern.groupSize}}`, 'g')) ?? [body]).join('-');
}
