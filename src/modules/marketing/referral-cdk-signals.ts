import type { DbOrTx } from '../../db/client.js';
import { queryRows } from '../../db/raw.js';

/**
 * What the platform knows of a referrer that a customer redeeming its code
 * must not share (the self-referral check of agents/join.ts, applied to
 * customers): the referrer's own customer account, the phone hashes it is
 * known by (its join application's, its linked customer's) and the devices it
 * used (its join application's, and those the risk gate linked to its account
 * in the last days).
 */
export interface ReferrerSignals {
  customerIds: string[];
  phoneHashes: string[];
  deviceIds: string[];
}

export type SelfReferralSignal = 'own_account' | 'phone' | 'device';

/** Reads an agent's or a customer's signals (agents, agent_applications, customers, risk_device_links), in the caller's transaction. */
export async function referrerSignals(db: DbOrTx, referrer: { type: 'agent' | 'customer'; id: string }, devicesSince: Date): Promise<ReferrerSignals> {
  if (referrer.type === 'customer') {
    const rows = await queryRows<{ phone_hash: string | null; devices: string[] | null }>(
      db,
      `select c.phone_hash, (select array_agg(l.device_id) from risk_device_links l where l.subject_type = 'account' and l.subject_id = $2 and l.last_seen >= $3::timestamptz) as devices
       from customers c where c.id = $1`,
      [referrer.id, `customer:${referrer.id}`, devicesSince.toISOString()],
    );
    const r = rows[0];
    return { customerIds: [referrer.id], phoneHashes: r?.phone_hash ? [r.phone_hash] : [], deviceIds: r?.devices ?? [] };
  }
  const rows = await queryRows<{ customer_id: string | null; customer_phone: string | null; app_phone: string | null; app_device: string | null; devices: string[] | null }>(
    db,
    `select a.customer_id, c.phone_hash as customer_phone, ap.phone_hash as app_phone, ap.device_id as app_device,
            (select array_agg(l.device_id) from risk_device_links l where l.subject_type = 'account' and l.subject_id = $2 and l.last_seen >= $3::timestamptz) as devices
     from agents a
     left join customers c on c.id = a.customer_id
     left join lateral (select phone_hash, device_id from agent_applications where agent_id = a.id limit 1) ap on true
     where a.id = $1`,
    [referrer.id, `agent:${referrer.id}`, devicesSince.toISOString()],
  );
  const r = rows[0];
  if (!r) return { customerIds: [], phoneHashes: [], deviceIds: [] };
  const present = (xs: (string | null)[]) => xs.filter((x): x is string => Boolean(x));
  return { customerIds: present([r.customer_id]), phoneHashes: present([r.customer_phone, r.app_phone]), deviceIds: [...present([r.app_device]), ...(r.devices ?? [])] };
}

/** The signals a redeeming customer shares with the referrer; empty: not a self-referral. */
export function selfReferral(s: ReferrerSignals, customer: { id: string; phoneHash: string | null; deviceId?: string }): SelfReferralSignal[] {
  const out: SelfReferralSignal[] = [];
  if (s.customerIds.includes(customer.id)) out.push('own_account');
  if (customer.phoneHash && s.phoneHashes.includes(customer.phoneHash)) out.push('phone');
  if (customer.deviceId && s.deviceIds.includes(customer.deviceId)) out.push('device');
  return out;
}
