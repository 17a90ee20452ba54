import type { Platform } from '../../platform.js';
import { queryRows } from '../../db/raw.js';

/** Devices several of a group's accounts used (from the gate's device links). */
export interface SharedDeviceRow {
  group_id: string;
  device_id: string;
  accounts: number;
}

/**
 * "Many buyers sharing devices": given accounts grouped (e.g. by the agent
 * they bought through), the devices on which at least `minAccounts` accounts
 * of one group were seen. One set-based query over risk_device_links, which
 * the gate fills (buffered) on every assessed attempt that sends a device id.
 */
export function createDeviceSharing(p: Platform) {
  async function sharedDevices(members: Array<{ groupId: string; account: string }>, minAccounts: number): Promise<SharedDeviceRow[]> {
    if (members.length === 0) return [];
    return queryRows<SharedDeviceRow>(
      p.db,
      `with m as (select unnest($1::text[]) as group_id, unnest($2::text[]) as account)
       select m.group_id, l.device_id, count(distinct m.account)::int as accounts
         from m join risk_device_links l on l.subject_type = 'account' and l.subject_id = m.account
        group by m.group_id, l.device_id
       having count(distinct m.account) >= $3
        order by m.group_id, accounts desc, l.device_id`,
      [members.map((x) => x.groupId), members.map((x) => x.account), minAccounts],
    );
  }
  return { sharedDevices };
}

export type DeviceSharing = ReturnType<typeof createDeviceSharing>;
