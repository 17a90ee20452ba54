import { applyBasisPoints, type Fen } from '../../lib/money.js';
import { AppError } from '../../lib/errors.js';

/** Pure rules of a withdrawal: its fee, what may be asked, how a payout account is checked and shown. */

export const withdrawalMethods = ['bank_transfer', 'wechat_transfer', 'manual'] as const;
export type WithdrawalMethod = (typeof withdrawalMethods)[number];

export const withdrawalStatuses = ['requested', 'approved', 'paid', 'rejected'] as const;
export type WithdrawalStatus = (typeof withdrawalStatuses)[number];

export interface FeeRule {
  /** smallest amount that may be withdrawn, in fen */
  minFen: Fen;
  /** fee as basis points of the amount (100 = 1%) */
  feeBps: number;
  /** the fee is never less than this (fen) */
  feeMinFen: Fen;
}

/** The fee on an amount: bps of it (rounded half up), at least feeMinFen. */
export function withdrawalFee(amountFen: Fen, rule: FeeRule): Fen {
  return Math.max(applyBasisPoints(amountFen, rule.feeBps), rule.feeMinFen);
}

/** Checks an amount against the rule; returns the fee and what the agent receives. Errors name the field. */
export function quoteWithdrawal(amountFen: Fen, rule: FeeRule): { feeFen: Fen; netFen: Fen } {
  if (!Number.isSafeInteger(amountFen) || amountFen <= 0) throw fieldError('amount_fen', 'must be a positive whole number of fen');
  if (amountFen < rule.minFen) throw fieldError('amount_fen', `must be at least ${rule.minFen} fen`, { min_fen: rule.minFen });
  const feeFen = withdrawalFee(amountFen, rule);
  if (feeFen >= amountFen) throw fieldError('amount_fen', `the fee (${feeFen} fen) would take the whole amount`, { fee_fen: feeFen });
  return { feeFen, netFen: amountFen - feeFen };
}

/** Normalises and checks a payout account for its method: a bank account number or a WeChat openid. */
export function normalisePayoutAccount(method: WithdrawalMethod, raw: string): string {
  const v = raw.trim();
  if (method === 'bank_transfer') {
    const digits = v.replace(/[\s-]/g, '');
    if (!/^\d{8,30}$/.test(digits)) throw fieldError('payout_account', 'a bank account number is 8-30 digits');
    return digits;
  }
  if (method === 'wechat_transfer') {
    if (!/^[A-Za-z0-9_-]{6,64}$/.test(v)) throw fieldError('payout_account', 'a WeChat openid is 6-64 of A-Z, a-z, 0-9, _ and -');
    return v;
  }
  if (v.length < 2 || v.length > 128) throw fieldError('payout_account', 'must be 2-128 characters');
  return v;
}

/** The payout account as lists show it: only its last 4 characters. */
export function maskPayoutAccount(account: string): string {
  if (account.length <= 4) return '*'.repeat(account.length);
  return `${'*'.repeat(Math.min(8, account.length - 4))}${account.slice(-4)}`;
}

/** The state machine: requested -> approved -> paid; requested | approved -> rejected. */
export function canMove(from: string, to: WithdrawalStatus): boolean {
  if (to === 'approved') return from === 'requested';
  if (to === 'paid') return from === 'approved';
  if (to === 'rejected') return from === 'requested' || from === 'approved';
  return false;
}

function fieldError(field: string, message: string, extra: Record<string, unknown> = {}): AppError {
  return new AppError('VALIDATION_FAILED', `${field}: ${message}`, [{ field, message, ...extra }]);
}
