import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, realServers, type TestApp } from '../helpers/boot.js';
import { startJobEngine, type JobDefinition, type JobEngine } from '../../src/modules/jobs/engine.js';
import { openPlatform, closePlatform } from '../../src/platform.js';

let t: TestApp;
beforeAll(async () => {
  t = await bootTestApp();
});
afterAll(() => t.close());

async function until(check: () => boolean, ms = 20_000) {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('background jobs on pg-boss', () => {
  it('runs each job once; a failing job is retried', async () => {
    const handled: number[] = [];
    let failures = 0;
    const defs: JobDefinition<{ i: number }>[] = [
      {
        name: 'test.count',
        handler: async (d) => {
          handled.push(d.i);
        },
      },
      {
        name: 'test.flaky',
        retryDelaySeconds: 1,
        retryBackoff: false,
        handler: async () => {
          failures++;
          if (failures < 2) throw new Error('first try fails');
        },
      },
    ];
    const engine = await startJobEngine(t.platform, defs as JobDefinition[], { pollingIntervalSeconds: 0.5 });
    try {
      for (let i = 0; i < 20; i++) await engine.send('test.count', { i });
      await engine.send('test.flaky', {});
      await until(() => handled.length >= 20 && failures >= 2);
      await new Promise((r) => setTimeout(r, 1000));
      expect(handled.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(failures).toBe(2);
    } finally {
      await engine.stop();
    }
  });

  it('jobs survive a restart: sent while no worker runs, done by the next start', async () => {
    const handled: string[] = [];
    const def = (record: boolean): JobDefinition<{ id: string }> => ({ name: 'test.durable', handler: async (d) => void (record && handled.push(d.id)) });
    const sender = await startJobEngine(t.platform, [def(false) as JobDefinition], { work: false });
    for (const id of ['a', 'b', 'c']) await sender.send('test.durable', { id });
    await sender.stop();
    const worker = await startJobEngine(t.platform, [def(true) as JobDefinition], { pollingIntervalSeconds: 0.5 });
    try {
      await until(() => handled.length === 3);
      expect(handled.sort()).toEqual(['a', 'b', 'c']);
    } finally {
      await worker.stop();
    }
  });

  it.runIf(realServers)('two instances on one PostgreSQL share the work and run each job exactly once', async () => {
    const seen = new Map<number, string[]>();
    const def = (instance: string): JobDefinition<{ i: number }> => ({
      name: 'test.shared',
      batchSize: 20,
      handler: async (d) => {
        seen.set(d.i, [...(seen.get(d.i) ?? []), instance]);
        await new Promise((r) => setTimeout(r, 5));
      },
    });
    const second = await openPlatform(t.config); // its own connection pool, as another process would have
    const engines: JobEngine[] = [];
    try {
      engines.push(await startJobEngine(t.platform, [def('A') as JobDefinition], { pollingIntervalSeconds: 0.5 }));
      engines.push(await startJobEngine(second, [def('B') as JobDefinition], { pollingIntervalSeconds: 0.5 }));
      for (let i = 0; i < 200; i++) await engines[i % 2]!.send('test.shared', { i });
      await until(() => seen.size === 200, 60_000);
      await new Promise((r) => setTimeout(r, 1500));
      expect([...seen.values()].every((by) => by.length === 1)).toBe(true);
      const byInstance = [...seen.values()].flat();
      expect(byInstance.filter((x) => x === 'A').length).toBeGreaterThan(0);
      expect(byInstance.filter((x) => x === 'B').length).toBeGreaterThan(0);
    } finally {
      for (const e of engines) await e.stop();
      await closePlatform(second);
    }
  });
});
