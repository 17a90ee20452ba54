/**
 * Money is an integer number of fen (分, 1/100 yuan). Never a float: every
 * amount that enters from outside is parsed here, every amount shown is
 * formatted here.
 */
export type Fen = number;

export class MoneyError extends Error {}

export function assertFen(value: number, what = 'amount'): Fen {
  if (!Number.isSafeInteger(value)) throw new MoneyError(`${what} must be an integer number of fen, got ${value}`);
  return value;
}

/** "12.3" -> 1230, "-0.05" -> -5, "7" -> 700. Refuses more than two decimals. */
export function parseYuan(text: string): Fen {
  const m = /^(-)?(\d{1,13})(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!m) throw new MoneyError(`not a yuan amount: "${text}"`);
  const [, sign, whole, frac = ''] = m;
  const fen = Number(whole) * 100 + Number(frac.padEnd(2, '0'));
  return sign ? -fen : fen;
}

/** 1230 -> "12.30" */
export function toYuanString(fen: Fen): string {
  assertFen(fen);
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.trunc(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** 123456 -> "¥1,234.56" */
export function formatFen(fen: Fen, currencySign = '¥'): string {
  const [whole, frac] = toYuanString(Math.abs(fen)).split('.') as [string, string];
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${fen < 0 ? '-' : ''}${currencySign}${grouped}.${frac}`;
}

/**
 * Multiply by a rate given in basis points (1/10000), rounding half away from
 * zero, in integers only: percentages of money never pass through a float.
 */
export function applyBasisPoints(fen: Fen, basisPoints: number): Fen {
  assertFen(fen);
  if (!Number.isSafeInteger(basisPoints)) throw new MoneyError('basis points must be an integer');
  const product = BigInt(fen) * BigInt(basisPoints);
  const q = product / 10000n;
  const r = product % 10000n;
  const absR = r < 0n ? -r : r;
  const rounded = absR * 2n >= 10000n ? q + (product < 0n ? -1n : 1n) : q;
  return assertFen(Number(rounded), 'result');
}

/**
 * Splits an amount into parts proportional to weights (largest remainder
 * method): the parts always sum to the amount, each is within 1 fen of its
 * exact share, and a zero weight gets nothing.
 */
export function allocate(fen: Fen, weights: number[]): Fen[] {
  assertFen(fen);
  if (weights.some((w) => !Number.isFinite(w) || w < 0)) throw new MoneyError('weights must be finite and not negative');
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new MoneyError('weights must sum to a positive number');
  const sign = fen < 0 ? -1 : 1;
  const abs = Math.abs(fen);
  const exact = weights.map((w) => (abs * w) / total);
  const parts = exact.map(Math.floor);
  let rest = abs - parts.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((x, i) => ({ i, r: x - Math.floor(x) })).filter(({ i }) => (weights[i] ?? 0) > 0).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; rest > 0; k = (k + 1) % byRemainder.length, rest--) parts[byRemainder[k]!.i]! += 1;
  return parts.map((x) => (x === 0 ? 0 : sign * x));
}
