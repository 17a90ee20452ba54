import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { ManualClock, MINUTE } from '../../src/lib/clock.js';
import { startFakeBotApi, type FakeBotApi } from '../fakes/telegram-bot-api/server.js';
import { startJobEngine, type JobDefinition, type JobEngine } from '../../src/modules/jobs/engine.js';
import { jobDefinitions } from '../../src/modules/jobs/definitions.js';
import { createAdminChat, retryDelayMs } from '../../src/modules/alerts/admin-chat.js';
import { loadConfig } from '../../src/config.js';

/**
 * Staff risk through the real vault routes: revealing or exporting more codes
 * than usual raises an alert (copied to the admin Telegram chat through the
 * job engine, here the fake Bot API), far more blocks the staff member (403
 * STAFF_RISK_BLOCKED) until an owner lifts it. Thresholds are small: alert
 * above 3 reveals an hour, block above 9; alert above 4 exported codes a day,
 * block above 12.
 */
const TOKEN = '123456789:AAFakeTokenForKaquanTests_0123456789ab';
const CHAT = '-1001234567890';
const clock = new ManualClock(new Date());
let t: TestApp;
let fake: FakeBotApi;
let owner: { token: string; userId: string };
let owner2: { token: string; userId: string };
let supportA: { token: string; userId: string };
let riskRole: string;
let codeIds: string[];
let skuId: string;

beforeAll(async () => {
  fake = await startFakeBotApi({ token: TOKEN, clock });
  t = await bootTestApp({
    clock,
    env: { STAFF_REVEAL_ALERT_PER_HOUR: '3', STAFF_EXPORT_ALERT_CODES_PER_DAY: '4', STAFF_RISK_BLOCK_MULTIPLIER: '3', ADMIN_ALERT_TELEGRAM_CHAT_ID: CHAT, TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_API_ROOT: fake.url, RISK_SEED_RULES: 'false' },
  });
  owner = await t.loginAs('owner');
  owner2 = await t.loginAs('owner');
  supportA = await t.loginAs('support');
  riskRole = (await t.loginAs('risk')).token;
  skuId = await createCodeSku(t);
  await stockCodes(t, skuId, 20);
  codeIds = (await t.services.vault.listCodes({ limit: 20, skuId })).data.map((c) => c.id);
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const reveal = (token: string, i: number) => t.inject({ method: 'POST', url: `/admin/vault/codes/${codeIds[i % codeIds.length]}/reveal`, headers: bearer(token), payload: { reason: 'customer says the code fails' } });
const alertsOf = async (kind: string) => (await t.inject({ method: 'GET', url: `/admin/alerts?kind=${kind}&open=true`, headers: bearer(owner.token) })).json().data as { subject_id: string; severity: string; message: string }[];
const staffRow = async (id: string) => {
  const res = await t.inject({ method: 'GET', url: '/admin/risk/staff?limit=100', headers: bearer(riskRole) });
  expect(res.statusCode).toBe(200);
  return (res.json().data as { staff_id: string; revealed_1h: number; exported_24h: number; blocked: boolean; block: { kind: string } | null }[]).find((s) => s.staff_id === id)!;
};
const unblock = (token: string, id: string) => t.inject({ method: 'POST', url: `/admin/risk/staff/${id}/unblock`, headers: bearer(token), payload: { reason: 'checked with the staff member' } });
const chatMessages = () => fake.callsOf('sendMessage').filter((c) => c.status === 200);

describe('staff reveals', () => {
  it('alerts above the hourly threshold (once), blocks above three times it, until an owner lifts the block', async () => {
    for (let i = 0; i < 3; i++) expect((await reveal(supportA.token, i)).statusCode).toBe(200);
    expect(await alertsOf('staff.unusual_reveals')).toEqual([]);
    expect((await reveal(supportA.token, 3)).statusCode).toBe(200);
    const opened = await alertsOf('staff.unusual_reveals');
    expect(opened).toMatchObject([{ subject_id: supportA.userId, severity: 'warning' }]);
    expect(opened[0]!.message).toContain('4 codes revealed in the last hour');
    for (let i = 4; i < 9; i++) expect((await reveal(supportA.token, i)).statusCode).toBe(200);
    expect(await staffRow(supportA.userId)).toMatchObject({ revealed_1h: 9, blocked: false });

    // The tenth would pass 9: refused, and the staff member is blocked.
    const refused = await reveal(supportA.token, 9);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('STAFF_RISK_BLOCKED');
    expect(refused.body).not.toContain('secret');
    expect(await staffRow(supportA.userId)).toMatchObject({ revealed_1h: 9, blocked: true, block: { kind: 'reveal' } });
    expect((await alertsOf('staff.unusual_reveals'))[0]).toMatchObject({ severity: 'critical' });
    expect((await t.services.audit.list({ limit: 10, action: 'risk.staff_blocked' })).data).toMatchObject([{ target_id: supportA.userId }]);
    // Blocked for every code, not only over the count.
    expect((await reveal(supportA.token, 0)).json().error.code).toBe('STAFF_RISK_BLOCKED');

    // Lifting: not by the risk role, not by oneself; by an owner, once.
    expect((await unblock(riskRole, supportA.userId)).statusCode).toBe(403);
    const lifted = await unblock(owner.token, supportA.userId);
    expect(lifted.statusCode).toBe(200);
    expect(lifted.json()).toMatchObject({ staff_id: supportA.userId, lifted_by: owner.userId });
    expect((await unblock(owner.token, supportA.userId)).statusCode).toBe(409);
    expect((await unblock(owner.token, 'stf_01JZZZZZZZZZZZZZZZZZZZZZZZ')).statusCode).toBe(404);
    expect((await t.services.audit.list({ limit: 10, action: 'risk.staff_unblocked' })).data).toMatchObject([{ actor_id: owner.userId, target_id: supportA.userId }]);
    expect(await alertsOf('staff.unusual_reveals')).toEqual([]);

    expect((await reveal(supportA.token, 0)).statusCode).toBe(200);
    expect(await staffRow(supportA.userId)).toMatchObject({ revealed_1h: 1, blocked: false });
  });
});

describe('staff exports', () => {
  const ask = (token: string, maxCodes: number) => t.inject({ method: 'POST', url: '/admin/vault/exports', headers: bearer(token), payload: { sku_id: skuId, max_codes: maxCodes, reason: 'supplier reconciliation' } });
  const approve = (token: string, id: string) => t.inject({ method: 'POST', url: `/admin/vault/exports/${id}/approve`, headers: bearer(token) });
  const download = (token: string, id: string) => t.inject({ method: 'GET', url: `/admin/vault/exports/${id}/download`, headers: bearer(token) });
  async function approved(maxCodes: number) {
    const asked = await ask(owner.token, maxCodes);
    expect(asked.statusCode).toBe(201);
    expect((await approve(owner2.token, asked.json().id)).statusCode).toBe(200);
    return asked.json().id as string;
  }

  it('counts exported codes per day: alert above the threshold, block above three times it, lifted by another owner', async () => {
    const first = await approved(5);
    expect((await download(owner.token, first)).statusCode).toBe(200);
    expect(await alertsOf('staff.unusual_exports')).toMatchObject([{ subject_id: owner.userId, severity: 'warning' }]);
    expect(await staffRow(owner.userId)).toMatchObject({ exported_24h: 5, blocked: false });

    const second = await approved(8);
    const refused = await download(owner.token, second);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('STAFF_RISK_BLOCKED');
    expect(await staffRow(owner.userId)).toMatchObject({ exported_24h: 5, blocked: true, block: { kind: 'export' } });
    // Blocked from revealing and from asking for another export too.
    expect((await reveal(owner.token, 0)).json().error.code).toBe('STAFF_RISK_BLOCKED');
    expect((await ask(owner.token, 1)).json().error.code).toBe('STAFF_RISK_BLOCKED');
    // An owner cannot lift their own block.
    expect((await unblock(owner.token, owner.userId)).statusCode).toBe(403);

    expect((await unblock(owner2.token, owner.userId)).statusCode).toBe(200);
    // The export stayed approved: it downloads now.
    const again = await download(owner.token, second);
    expect(again.statusCode).toBe(200);
    expect(again.body.split('\n').filter((l) => l.startsWith('cod_')).length).toBe(8);
    expect(await staffRow(owner.userId)).toMatchObject({ exported_24h: 8, blocked: false });
  });
});

describe('admin chat', () => {
  it('sends alerts to the admin Telegram chat through the job engine, retrying a failed send; no secrets, phones masked', async () => {
    const pending = await t.platform.database.executeSql<{ n: number }>("select count(*)::int as n from alert_chat_messages where status = 'pending'", []);
    // Reveal alert, reveal block, export alert, export block, export alert again after the lift.
    expect(Number(pending.rows[0]!.n)).toBe(5);

    // A send that fails (the Bot API refuses a wrong token) stays queued for a retry, and the error never shows the token.
    const wrong = createAdminChat(t.platform, { chatId: CHAT, botToken: '123456789:AAWrongTokenWrongTokenWrong_000', apiRoot: fake.url, kinds: [] });
    expect(await wrong.deliverDue(1)).toEqual({ sent: 0, failed: 1 });
    const failed = await t.platform.database.executeSql<{ attempts: number; last_error: string }>('select attempts, last_error from alert_chat_messages where attempts > 0', []);
    expect(failed.rows).toHaveLength(1);
    expect(failed.rows[0]!.last_error).toContain('401');
    expect(failed.rows[0]!.last_error).not.toContain('AAWrong');

    // The job of the platform's job list, run by pg-boss.
    const def = jobDefinitions(t.services, t.config).find((d) => d.name === 'alerts.send-admin-chat')!;
    expect(def.cron).toBe('* * * * *');
    const engine: JobEngine = await startJobEngine(t.platform, [{ ...def, cron: undefined } as JobDefinition], { pollingIntervalSeconds: 0.5 });
    try {
      await engine.send('alerts.send-admin-chat', {});
      const deadline = Date.now() + 15_000;
      while (chatMessages().length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(chatMessages()).toHaveLength(4);
      // The failed one waits for its retry time, then goes.
      clock.advance(retryDelayMs(1) + MINUTE);
      await engine.send('alerts.send-admin-chat', {});
      while (chatMessages().length < 5 && Date.now() < deadline + 15_000) await new Promise((r) => setTimeout(r, 100));
      expect(chatMessages()).toHaveLength(5);
    } finally {
      await engine.stop();
    }
    const bodies = chatMessages().map((c) => c.params as { chat_id: string; text: string });
    expect(bodies.every((b) => String(b.chat_id) === CHAT)).toBe(true);
    const texts = bodies.map((b) => b.text).join('\n---\n');
    expect(texts).toContain('staff.unusual_reveals');
    expect(texts).toContain('staff.unusual_exports');
    expect(texts).toContain(supportA.userId);
    expect(texts).toMatch(/\[critical\]/);
    const sent = await t.platform.database.executeSql<{ n: number }>("select count(*)::int as n from alert_chat_messages where status = 'sent'", []);
    expect(Number(sent.rows[0]!.n)).toBe(5);
  });

  it('masks phone numbers and leaves out the details of any alert', async () => {
    const { id } = await t.services.alerts.raise({ kind: 'risk', subjectType: 'customer', subjectId: 'cus_x', severity: 'warning', message: 'many orders from 13812341234', details: { secret: 'SHOULD-NOT-LEAVE' } });
    const [row] = await t.services.alerts.adminChat.messagesOf(id);
    expect(row!.text).toContain('138****1234');
    expect(row!.text).not.toContain('13812341234');
    expect(row!.text).not.toContain('SHOULD-NOT-LEAVE');
  });

  it('sends only the configured kinds; a chat id without a bot token, or a bad one, stops the start', async () => {
    const only = createAdminChat(t.platform, { chatId: CHAT, botToken: TOKEN, apiRoot: fake.url, kinds: ['low_stock'] });
    expect(await only.enqueue({ alertId: 'alr_x', kind: 'risk', severity: 'info', subjectType: 'x', subjectId: 'y', message: 'm' })).toBe(false);
    expect(() => loadConfig({ ...t.env, TELEGRAM_BOT_TOKEN: '', ADMIN_ALERT_TELEGRAM_CHAT_ID: CHAT })).toThrow(/TELEGRAM_BOT_TOKEN is required/);
    expect(() => loadConfig({ ...t.env, ADMIN_ALERT_TELEGRAM_CHAT_ID: 'not a chat' })).toThrow(/ADMIN_ALERT_TELEGRAM_CHAT_ID/);
    expect(() => loadConfig({ ...t.env, ADMIN_ALERT_KINDS: 'low stock!' })).toThrow(/ADMIN_ALERT_KINDS/);
  });
});
