import { applyBasisPoints, type Fen } from '../../lib/money.js';
import { AppError } from '../../lib/errors.js';

/** Pure rules of a withdrawal: its fee, what may be asked, how a payout account is checked and shown. */

export const withdrawalMethods = ['bank_transfer', 'wechat_transfer', 'manual'] as const;
export type WithdrawalMethod = (typeof withdrawalMethods)[number];

export const withdrawalStatuses = ['requested', 'awaiting_second_approval', 'approved', 'paid', 'rejected'] as const;
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

/**
 * The state machine: requested -> approved -> paid; at or above the dual
 * approval amount requested -> awaiting_second_approval -> approved -> paid;
 * any state before paid -> rejected.
 */
export function canMove(from: string, to: WithdrawalStatus): boolean {
  if (to === 'awaiting_second_approval') return from === 'requested';
  if (to === 'approved') return from === 'requested' || from === 'awaiting_second_approval';
  if (to === 'paid') return from === 'approved';
  if (to === 'rejected') return from === 'requested' || from === 'awaiting_second_approval' || from === 'approved';
  return false;
}

/** How many finance staff must approve a withdrawal of this amount: two at or above the threshold. */
export function approvalsNeeded(amountFen: Fen, dualApprovalFen: Fen): 1 | 2 {
  return amountFen >= dualApprovalFen ? 2 : 1;
}

export interface WithdrawalLimits {
  /** at or above this amount (fen) two different finance staff must approve */
  dualApprovalFen: Fen;
  /** most an agent may request per day (fen, summed over the day's withdrawals that were not rejected) */
  dailyLimitFen: Fen;
  /** most withdrawals an agent may request per day (rejected ones not counted) */
  dailyCount: number;
}

/** Checks a new request against the day's earlier ones; null when it fits, else the refusal naming amount_fen. */
export function checkDailyLimits(amountFen: Fen, today: { count: number; amountFen: Fen }, limits: WithdrawalLimits): AppError | null {
  if (today.count + 1 > limits.dailyCount) {
    return new AppError('UNPROCESSABLE', `amount_fen: at most ${limits.dailyCount} withdrawals a day; ${today.count} already requested today`, [{ field: 'amount_fen', message: `at most ${limits.dailyCount} withdrawals a day`, code: 'DAILY_COUNT_LIMIT', daily_count: limits.dailyCount, today_count: today.count }]);
  }
  if (today.amountFen + amountFen > limits.dailyLimitFen) {
    const left = Math.max(0, limits.dailyLimitFen - today.amountFen);
    return new AppError('UNPROCESSABLE', `amount_fen: at most ${limits.dailyLimitFen} fen a day; ${left} fen left today`, [{ field: 'amount_fen', message: `at most ${limits.dailyLimitFen} fen a day`, code: 'DAILY_AMOUNT_LIMIT', daily_limit_fen: limits.dailyLimitFen, today_fen: today.amountFen, left_fen: left }]);
  }
  return null;
}

/** Start of the China Standard Time (Asia/Shanghai, UTC+8, no daylight saving) day that `at` falls in. */
export function chinaDayStart(at: Date): Date {
  const offset = 8 * 3_600_000;
  return new Date(Math.floor((at.getTime() + offset) / 86_400_000) * 86_400_000 - offset);
}

function fieldError(field: string, message: string, extra: Record<string, unknown> = {}): AppError {
  return new AppError('VALIDATION_FAILED', `${field}: ${message}`, [{ field, message, ...extra }]);
}
