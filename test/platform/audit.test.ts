import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';

let t: TestApp;
let owner: string;
beforeAll(async () => {
  t = await bootTestApp({ onDisk: true });
  owner = (await t.loginAs('owner')).token;
  for (let i = 0; i < 5; i++) {
    await t.inject({ method: 'POST', url: '/admin/staff', headers: bearer(owner), payload: { email: `s${i}@audit.test`, name: `S${i}`, role: 'support', password: 'long-enough-password' } });
  }
});
afterAll(() => t.close());

const sql = (text: string) => t.platform.database.executeSql(text);

describe('audit trail', () => {
  it('records privileged actions with actor, action, target, IP and time', async () => {
    const page = await t.inject({ method: 'GET', url: '/admin/audit?limit=50', headers: bearer(owner) });
    expect(page.statusCode).toBe(200);
    const rows = page.json().data as { action: string; actor_id: string; target_type: string; ip: string; at: string }[];
    const creates = rows.filter((r) => r.action === 'staff.create' && r.actor_id);
    expect(creates).toHaveLength(5);
    expect(creates[0]).toMatchObject({ target_type: 'staff', ip: expect.any(String), at: expect.any(String) });
    expect(rows.some((r) => r.action === 'auth.login')).toBe(true);
  });

  it('is paginated by cursor, newest first', async () => {
    const first = (await t.inject({ method: 'GET', url: '/admin/audit?limit=3', headers: bearer(owner) })).json();
    expect(first.data).toHaveLength(3);
    expect(first.has_more).toBe(true);
    const second = (await t.inject({ method: 'GET', url: `/admin/audit?limit=3&cursor=${first.next_cursor}`, headers: bearer(owner) })).json();
    expect(second.data[0].seq).toBe(first.data[2].seq - 1);
  });

  it('refuses UPDATE, DELETE and TRUNCATE', async () => {
    await expect(sql(`update audit_log set action = 'x' where seq = 1`)).rejects.toThrow(/append-only/);
    await expect(sql(`delete from audit_log where seq = 1`)).rejects.toThrow(/append-only/);
    await expect(sql(`truncate audit_log`)).rejects.toThrow(/append-only/);
  });

  it('the chain verifies while intact', async () => {
    const res = (await t.inject({ method: 'GET', url: '/admin/audit/verify', headers: bearer(owner) })).json();
    expect(res).toMatchObject({ ok: true, first_broken: null });
    expect(res.rows).toBeGreaterThanOrEqual(7);
  });

  it('concurrent writers still make one unbroken chain', async () => {
    await Promise.all(Array.from({ length: 30 }, (_, i) => t.services.audit.record({ actorType: 'system', action: 'test.concurrent', details: { i } })));
    expect((await t.services.audit.verify()).ok).toBe(true);
  });

  it('a row altered around the trigger (superuser) is found, with its seq', async () => {
    await sql(`alter table audit_log disable trigger audit_log_append_only`);
    await sql(`update audit_log set details = '{"role":"owner"}' where seq = 3`);
    await sql(`alter table audit_log enable trigger audit_log_append_only`);
    const res = await t.services.audit.verify();
    expect(res).toMatchObject({ ok: false, firstBroken: { seq: 3 } });
    expect(!res.ok && res.firstBroken.reason).toContain('altered');
  });

  it('npm run audit:verify exits non-zero and names the first broken link', async () => {
    // The embedded database is a directory only one process may open: hand it over to the CLI.
    await t.stop();
    const run = spawnSync('npx', ['tsx', 'src/cli/audit-verify.ts'], { env: { ...process.env, ...t.env, LOG_LEVEL: 'silent' }, encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(1);
    expect(run.stdout + run.stderr).toMatch(/first broken link at row 3/);
  });
});
