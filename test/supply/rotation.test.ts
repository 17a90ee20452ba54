import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { bootTestApp, TEST_MASTER_KEYS, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { loadConfig } from '../../src/config.js';
import { openPlatform, type Platform } from '../../src/platform.js';
import { createServices } from '../../src/services.js';
import { rotateMasterKey } from '../../src/modules/vault/rotation.js';
import { AppError } from '../../src/lib/errors.js';

let t: TestApp;
beforeAll(async () => {
  t = await bootTestApp();
});
afterAll(() => t.close());

const NEW_KEY = `t2:${randomBytes(32).toString('base64')}`;

/** The same database seen by instances configured with other master keys. */
function instanceWithKeys(keys: string, active?: string): Promise<Platform> {
  return openPlatform(loadConfig({ ...t.env, VAULT_MASTER_KEYS: keys, ...(active ? { VAULT_ACTIVE_KEY_ID: active } : {}) }), { database: t.platform.database, kv: t.platform.kv, logger: t.platform.logger });
}

describe('master key rotation', () => {
  it('re-wraps every data key and sealed secret while codes keep selling, then the old key can go', async () => {
    const sku = await createCodeSku(t);
    const batches = 12;
    const secrets: string[] = [];
    for (let i = 0; i < batches; i++) secrets.push(...(await stockCodes(t, sku, 25)));
    const customer = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: 'rot-1' } });
    await t.services.customers.setPhone(customer.customerId, '13900001111');

    // Every instance now knows both keys; new data uses t2.
    const both = await instanceWithKeys(`${TEST_MASTER_KEYS},${NEW_KEY}`, 't2');
    const seller = createServices(both);

    let sold = 0;
    let stop = false;
    const selling = (async () => {
      let n = 0;
      while (!stop) {
        let ids: string[];
        try {
          ids = await seller.vault.reserve({ skuId: sku, quantity: 1, holder: `ord_r${n++}`, until: new Date(Date.now() + 60_000) });
        } catch (e) {
          if (e instanceof AppError && e.code === 'OUT_OF_STOCK') break;
          throw e;
        }
        await seller.vault.transition(ids, 'sell', { actorType: 'order', ref: `ord_r${n}` });
        const plain = await seller.vault.open(ids[0]!);
        expect(secrets).toContain(plain.secret);
        sold++;
      }
    })();
    const report = await rotateMasterKey(both, { batchSize: 3 });
    stop = true;
    await selling;

    expect(sold).toBeGreaterThan(0);
    expect(report.rewrapped.code_batches).toBe(batches);
    expect(report.rewrapped.customers).toBe(1);
    expect(Object.values(report.remainingOnOldKeys).every((n) => n === 0)).toBe(true);

    // An instance with only the new key reads every code and the phone; one with only the old key reads none.
    const onlyNew = createServices(await instanceWithKeys(NEW_KEY));
    const allIds = (await t.platform.database.executeSql<{ id: string }>('select id from codes where sku_id = $1', [sku])).rows.map((r) => r.id);
    const opened = await onlyNew.vault.openCodes(allIds);
    expect([...opened.values()].map((c) => c.secret).sort()).toEqual([...secrets].sort());
    const onlyOld = createServices(await instanceWithKeys(TEST_MASTER_KEYS));
    await expect(onlyOld.vault.open(allIds[0]!)).rejects.toThrow(/master key t2 is not configured/);
  });
});
