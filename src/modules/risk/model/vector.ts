import { riskActions, type RiskFeatures } from '../features.js';

/**
 * RiskFeatures -> the numeric vector the model reads. Counts and amounts go
 * through log1p (a burst of 300 is not 300 times as bad as 1), the hour goes
 * round the clock as sin/cos (23:00 is next to 00:00), the action is one-hot.
 * The names travel in the model file; a model whose names differ from these
 * is refused at load, so a change here means a new trained model.
 */
export const featureNames: readonly string[] = [
  ...riskActions.map((a) => `action_${a}`),
  'log_amount_yuan',
  'log_coupon_yuan',
  'coupon_share_of_amount',
  'round_amount_100_yuan',
  'hour_sin',
  'hour_cos',
  'night_0_6',
  'no_account_age',
  'log_account_age_hours',
  'account_new_1h',
  'account_new_24h',
  'log_ip_1m',
  'log_ip_10m',
  'log_ip_1h',
  'log_subnet_10m',
  'log_subnet_1h',
  'log_device_10m',
  'log_device_1h',
  'log_account_10m',
  'log_account_1h',
  'log_agent_1h',
  'log_sku_1m',
  'log_account_amount_24h_yuan',
  'log_failures_ip_1h',
  'log_failures_device_1h',
  'log_failures_account_1h',
  'log_accounts_per_device',
  'log_devices_per_account',
  'log_accounts_per_ip',
  'missing_device',
  'log_prior_orders',
  'first_order',
];

export const featureCount = featureNames.length;

/** Writes the vector into `out` (no allocation: this runs on every decision). */
export function writeVector(f: RiskFeatures, out: Float64Array): void {
  let i = 0;
  for (const a of riskActions) out[i++] = f.action === a ? 1 : 0;
  const amount = Math.max(0, f.amountFen);
  const coupon = Math.max(0, f.couponValueFen);
  out[i++] = Math.log1p(amount / 100);
  out[i++] = Math.log1p(coupon / 100);
  out[i++] = amount > 0 ? Math.min(1, coupon / amount) : coupon > 0 ? 1 : 0;
  out[i++] = amount > 0 && amount % 10000 === 0 ? 1 : 0;
  const angle = (2 * Math.PI * f.hourOfDay) / 24;
  out[i++] = Math.sin(angle);
  out[i++] = Math.cos(angle);
  out[i++] = f.hourOfDay < 6 ? 1 : 0;
  const age = f.accountAgeHours;
  out[i++] = age === null ? 1 : 0;
  out[i++] = age === null ? 0 : Math.log1p(Math.max(0, age));
  out[i++] = age !== null && age < 1 ? 1 : 0;
  out[i++] = age !== null && age < 24 ? 1 : 0;
  const v = f.velocity;
  out[i++] = Math.log1p(v.ip_1m);
  out[i++] = Math.log1p(v.ip_10m);
  out[i++] = Math.log1p(v.ip_1h);
  out[i++] = Math.log1p(v.subnet_10m);
  out[i++] = Math.log1p(v.subnet_1h);
  out[i++] = Math.log1p(v.device_10m);
  out[i++] = Math.log1p(v.device_1h);
  out[i++] = Math.log1p(v.account_10m);
  out[i++] = Math.log1p(v.account_1h);
  out[i++] = Math.log1p(v.agent_1h);
  out[i++] = Math.log1p(v.sku_1m);
  out[i++] = Math.log1p(Math.max(0, v.account_amount_24h) / 100);
  out[i++] = Math.log1p(v.failures_ip_1h);
  out[i++] = Math.log1p(v.failures_device_1h);
  out[i++] = Math.log1p(v.failures_account_1h);
  out[i++] = Math.log1p(f.links.accounts_per_device);
  out[i++] = Math.log1p(f.links.devices_per_account);
  out[i++] = Math.log1p(f.links.accounts_per_ip);
  out[i++] = f.missingDevice ? 1 : 0;
  out[i++] = Math.log1p(f.priorOrders);
  out[i++] = f.action === 'order' && f.priorOrders === 0 ? 1 : 0;
}

export function toVector(f: RiskFeatures): Float64Array {
  const out = new Float64Array(featureCount);
  writeVector(f, out);
  return out;
}
