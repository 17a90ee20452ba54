/**
 * What the risk gate knows about one attempt when it decides. The engine
 * fills it from the request and the velocity counters; rules read it by
 * name ("velocity.ip_10m"), and the learned score reads it as a vector.
 * Counts include the attempt being assessed.
 */
export type RiskAction = 'order' | 'login' | 'register' | 'withdrawal' | 'coupon_claim' | 'cdk_redeem';
export const riskActions: readonly RiskAction[] = ['order', 'login', 'register', 'withdrawal', 'coupon_claim', 'cdk_redeem'];

export interface RiskFeatures {
  action: RiskAction;
  amountFen: number;
  /** Face value of the coupon being claimed or used, 0 when none. */
  couponValueFen: number;
  /** 0-23, Asia/Shanghai. */
  hourOfDay: number;
  /** Hours since the account was created; null when there is no account yet (register, anonymous). */
  accountAgeHours: number | null;
  /** Attempts in sliding windows, by dimension. */
  velocity: {
    ip_1m: number;
    ip_10m: number;
    ip_1h: number;
    subnet_10m: number;
    subnet_1h: number;
    device_10m: number;
    device_1h: number;
    account_10m: number;
    account_1h: number;
    agent_1h: number;
    sku_1m: number;
    /** Sum of amounts in fen by the account over 24 hours. */
    account_amount_24h: number;
    /** Failed attempts (logins, redemption codes) from this IP / device / account in the last hour. */
    failures_ip_1h: number;
    failures_device_1h: number;
    failures_account_1h: number;
    /**
     * Failed attempts of this action (login, cdk_redeem) across the whole platform in the last 10 minutes, before
     * this one: the one count a credential stuffer rotating IPs, devices and accounts cannot spread thin.
     */
    failures_global_10m: number;
  };
  /** Distinct accounts seen on this device, devices seen for this account, accounts from this IP (24 h). */
  links: { accounts_per_device: number; devices_per_account: number; accounts_per_ip: number };
  /** No device id sent (scripts often send none). */
  missingDevice: boolean;
  /** Orders of the account before this one; 0 for a first order. */
  priorOrders: number;
  /** The learned score in [0, 1], when a model is loaded. */
  score?: number;
}
