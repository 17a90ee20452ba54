import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, realServers, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { openPlatform, closePlatform, type Platform } from '../../src/platform.js';
import { createServices, type Services } from '../../src/services.js';
import { AppError } from '../../src/lib/errors.js';

let t: TestApp;
// On the real server a second, larger pool gives true parallelism (40 connections at once).
let wide: { platform: Platform; services: Services } | null = null;
beforeAll(async () => {
  t = await bootTestApp();
  if (realServers) {
    const platform = await openPlatform({ ...t.config, databasePoolSize: 40 });
    wide = { platform, services: createServices(platform) };
  }
});
afterAll(async () => {
  if (wide) await closePlatform(wide.platform);
  await t.close();
});

const vault = () => (wide ?? { services: t.services }).services.vault;

describe('no code is handed out twice under concurrency', () => {
  it('hundreds of parallel claims: every code goes to at most one holder, counts add up', async () => {
    const sku = await createCodeSku(t);
    await stockCodes(t, sku, 500);
    const until = new Date(Date.now() + 600_000);
    const attempts = Array.from({ length: 400 }, (_, i) => ({ holder: `ord_${i}`, quantity: 1 + (i % 3) }));
    const results = await Promise.all(
      attempts.map(async (a) => {
        try {
          return { ...a, ids: await vault().reserve({ skuId: sku, quantity: a.quantity, holder: a.holder, until }) };
        } catch (e) {
          if (e instanceof AppError && e.code === 'OUT_OF_STOCK') return { ...a, ids: [] as string[] };
          throw e;
        }
      }),
    );
    const handedOut = results.flatMap((r) => r.ids);
    expect(new Set(handedOut).size).toBe(handedOut.length);
    for (const r of results) expect(r.ids.length === 0 || r.ids.length === r.quantity).toBe(true);
    const rows = (await t.platform.database.executeSql<{ state: string; reserved_by: string | null; n: number }>(`select state, reserved_by, count(*)::int as n from codes where sku_id = $1 group by state, reserved_by`, [sku])).rows;
    const reservedInDb = rows.filter((r) => r.state === 'reserved').reduce((a, r) => a + Number(r.n), 0);
    const availableInDb = rows.filter((r) => r.state === 'available').reduce((a, r) => a + Number(r.n), 0);
    expect(reservedInDb).toBe(handedOut.length);
    expect(reservedInDb + availableInDb).toBe(500);
    expect(handedOut.length).toBeGreaterThan(450);
    // Each holder's codes in the database are exactly the ones it was told about.
    for (const r of results.filter((x) => x.ids.length)) {
      const mine = rows.find((x) => x.reserved_by === r.holder);
      expect(Number(mine?.n)).toBe(r.quantity);
    }
  });

  it('a duplicated "paid" signal sells a code once: the second is refused', async () => {
    const sku = await createCodeSku(t);
    await stockCodes(t, sku, 20);
    const ids = await vault().reserve({ skuId: sku, quantity: 20, holder: 'ord_dup', until: new Date(Date.now() + 60_000) });
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => vault().transition(ids, 'sell', { actorType: 'order', ref: `ord_dup#${i}` })));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes.filter((x) => x.status === 'rejected')) expect((o as PromiseRejectedResult).reason).toMatchObject({ code: 'CONFLICT' });
    const events = (await t.platform.database.executeSql<{ n: number }>(`select count(*)::int as n from code_events where code_id = any($1::text[]) and to_state = 'sold'`, [ids])).rows;
    expect(Number(events[0]!.n)).toBe(20);
  });

  it('claims against an allocation and the free pool at once never cross', async () => {
    const sku = await createCodeSku(t);
    await stockCodes(t, sku, 200);
    const owner = (await t.services.auth.listStaff({ limit: 1 })).data[0]?.id ?? 'stf_x';
    const alloc = await t.services.inventory.allocate({ skuId: sku, holderType: 'campaign', holderId: 'flash-1', quantity: 80 }, { id: owner });
    const until = new Date(Date.now() + 60_000);
    const claim = async (holder: string, allocationId?: string) => {
      try {
        return await vault().reserve({ skuId: sku, quantity: 1, holder, until, allocationId });
      } catch (e) {
        if (e instanceof AppError && e.code === 'OUT_OF_STOCK') return [];
        throw e;
      }
    };
    // 150 free-pool buyers want 1 each (only 120 free); 100 campaign buyers want 1 each (80 allocated + the free leftovers).
    const free = await Promise.all(Array.from({ length: 150 }, (_, i) => claim(`free_${i}`)));
    const campaign = await Promise.all(Array.from({ length: 100 }, (_, i) => claim(`camp_${i}`, alloc.id)));
    const freeIds = free.flat();
    const campIds = campaign.flat();
    expect(freeIds).toHaveLength(120);
    expect(campIds).toHaveLength(80);
    expect(new Set([...freeIds, ...campIds]).size).toBe(200);
    const fromAlloc = (await t.platform.database.executeSql<{ n: number }>(`select count(*)::int as n from codes where id = any($1::text[]) and allocation_id = $2`, [campIds, alloc.id])).rows;
    expect(Number(fromAlloc[0]!.n)).toBe(80);
  });
});
