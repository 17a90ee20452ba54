import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Papa from 'papaparse';
import { bootTestApp, type TestApp } from '../helpers/boot.js';
import { hmacSha256Hex } from '../../src/lib/crypto.js';
import type { Role } from '../../src/modules/auth/permissions.js';
import { auth, makeSku, multipart } from './helpers.js';

let t: TestApp;
const users = {} as Record<Role, { token: string; userId: string }>;
/** Two owners for the four-eyes export workflow: A asks, B approves. */
let a: { token: string; userId: string };
let b: { token: string; userId: string };
let ops: string;
let readonly: string;
/** The SKU whose codes are exported, and its code ids in id order. */
let exportSku: string;
let exportCodeIds: string[];

/** Codes to export; several would be formulas if a spreadsheet opened them raw. */
const csvToImport = [
  'card_number,secret,expires_at',
  'E1,EXPORT-SECRET-0001,2099-01-01T00:00:00Z',
  'E2,EXPORT-SECRET-0002,',
  ',+ABCDEFG,',
  ',=SUM(A1:A9),',
  '=HACK,CARDEQ-0005,',
  ',"QUO""TE,0006",',
  ',-MINUS007,',
  ',@AT00008,',
].join('\n');

beforeAll(async () => {
  t = await bootTestApp();
  for (const role of ['owner', 'operations', 'support', 'readonly', 'finance'] as const) users[role] = await t.loginAs(role);
  a = users.owner;
  b = await t.loginAs('owner');
  ops = users.operations.token;
  readonly = users.readonly.token;
  exportSku = await makeSku(t);
  const body = await multipart('codes.csv', csvToImport, 'text/csv');
  const res = await t.inject({ method: 'POST', url: `/admin/vault/imports?sku_id=${exportSku}&supplier=acme&unit_cost_fen=10`, headers: { ...auth(ops), ...body.headers }, payload: body.payload });
  expect(res.statusCode).toBe(201);
  expect(res.json().accepted).toBe(8);
  const { rows } = await t.platform.database.executeSql<{ id: string }>('select id from codes where sku_id = $1 order by id', [exportSku]);
  exportCodeIds = rows.map((r) => r.id);
  expect(exportCodeIds).toHaveLength(8);
});
afterAll(() => t.close());

const as = (role: Role) => auth(users[role].token);

async function codeIdsOf(skuId: string): Promise<string[]> {
  const res = await t.inject({ method: 'GET', url: `/admin/vault/codes?sku_id=${skuId}&limit=100`, headers: as('owner') });
  expect(res.statusCode).toBe(200);
  return res.json().data.map((c: { id: string }) => c.id);
}

describe('secrets stay secret', () => {
  let sku: string;
  let ids: string[];
  const plain = [
    { card: 'CARD-0000001', secret: 'TOPSECRET-AAAA-1111' },
    { card: 'CARD-0000002', secret: 'TOPSECRET-BBBB-2222' },
    { card: 'CARD-0000003', secret: 'TOPSECRET-CCCC-3333' },
  ];

  beforeAll(async () => {
    sku = await makeSku(t);
    const res = await t.inject({
      method: 'POST',
      url: '/admin/vault/imports/text',
      headers: as('operations'),
      payload: { sku_id: sku, supplier: 'acme', unit_cost_fen: 5, text: plain.map((p) => `${p.card}\t${p.secret}`).join('\n') },
    });
    expect(res.statusCode).toBe(201);
    ids = await codeIdsOf(sku);
    expect(ids).toHaveLength(3);
  });

  it('the sealed column holds neither the secret nor the card number, in any encoding; last4 and the HMAC are all that is clear', async () => {
    const { rows } = await t.platform.database.executeSql<{ id: string; sealed: Uint8Array; secret_hmac: string; last4: string }>('select id, sealed, secret_hmac, last4 from codes where sku_id = $1', [sku]);
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      const sealed = Buffer.from(row.sealed);
      const { secret, cardNumber } = await t.services.vault.open(row.id);
      const p = plain.find((x) => x.secret === secret)!;
      expect(cardNumber).toBe(p.card);
      expect(sealed.length).toBeGreaterThan(secret.length);
      for (const s of [secret, p.card, secret.slice(0, 8), JSON.stringify({ s: secret })]) {
        expect(sealed.includes(Buffer.from(s)), s).toBe(false);
        expect(sealed.toString('base64').includes(Buffer.from(s).toString('base64')), s).toBe(false);
        expect(sealed.toString('hex').includes(Buffer.from(s).toString('hex')), s).toBe(false);
      }
      expect(row.secret_hmac).toMatch(/^[0-9a-f]{64}$/);
      expect(row.secret_hmac).toBe(t.services.vault.secretHmac(secret));
      expect(row.last4).toBe(secret.slice(-4));
    }
    // no column of any row holds a secret
    const dump = JSON.stringify((await t.platform.database.executeSql('select * from codes where sku_id = $1', [sku])).rows, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
    for (const p of plain) expect(dump.includes(p.secret)).toBe(false);
  });

  it('GET /admin/vault/codes and /admin/vault/codes/:id show only ******** and the last 4', async () => {
    for (const role of ['owner', 'operations', 'readonly', 'finance'] as const) {
      const list = await t.inject({ method: 'GET', url: `/admin/vault/codes?sku_id=${sku}`, headers: as(role) });
      expect(list.statusCode).toBe(200);
      for (const p of plain) {
        expect(list.body.includes(p.secret)).toBe(false);
        expect(list.body.includes(p.card)).toBe(false);
      }
      expect(list.json().data.map((c: { secret_masked: string }) => c.secret_masked).sort()).toEqual(['********1111', '********2222', '********3333']);
      for (const id of ids) {
        const one = await t.inject({ method: 'GET', url: `/admin/vault/codes/${id}`, headers: as(role) });
        expect(one.statusCode).toBe(200);
        for (const p of plain) expect(one.body.includes(p.secret) || one.body.includes(p.card)).toBe(false);
        expect(one.json().secret_masked).toMatch(/^\*{8}(1111|2222|3333)$/);
        expect(Object.keys(one.json()).sort()).toEqual(['allocation_id', 'batch_id', 'created_at', 'events', 'expires_at', 'id', 'order_id', 'sale_count', 'secret_masked', 'sku_id', 'state']);
      }
    }
  });

  it('reveal needs a reason: 400 without one', async () => {
    for (const payload of [{}, { reason: '' }, { reason: 'why' }]) {
      const res = await t.inject({ method: 'POST', url: `/admin/vault/codes/${ids[0]}/reveal`, headers: as('owner'), payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().error.details[0].field).toBe('reason');
      expect(res.body.includes('TOPSECRET')).toBe(false);
    }
    expect((await t.services.audit.list({ limit: 10, action: 'vault.reveal' })).data).toEqual([]);
  });

  it('reveal is refused to readonly and finance (403), and writes nothing to the audit trail', async () => {
    for (const role of ['readonly', 'finance'] as const) {
      const res = await t.inject({ method: 'POST', url: `/admin/vault/codes/${ids[0]}/reveal`, headers: as(role), payload: { reason: 'customer says it does not work' } });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('FORBIDDEN');
      expect(res.body.includes('TOPSECRET')).toBe(false);
    }
    expect((await t.services.audit.list({ limit: 10, action: 'vault.reveal' })).data).toEqual([]);
  });

  it('reveal works for support and owner, and each reveal is audited with its reason', async () => {
    const cases = [
      { role: 'support' as const, id: ids[0]!, reason: 'ticket 4411: customer says the code is rejected' },
      { role: 'owner' as const, id: ids[1]!, reason: 'supplier dispute, batch check' },
    ];
    for (const c of cases) {
      const res = await t.inject({ method: 'POST', url: `/admin/vault/codes/${c.id}/reveal`, headers: as(c.role), payload: { reason: c.reason } });
      expect(res.statusCode).toBe(200);
      const opened = await t.services.vault.open(c.id);
      expect(res.json()).toEqual({ id: c.id, card_number: opened.cardNumber, secret: opened.secret });
      expect(plain.map((p) => p.secret)).toContain(res.json().secret);
    }
    const audit = (await t.services.audit.list({ limit: 10, action: 'vault.reveal' })).data;
    expect(audit.map((a) => ({ actor_type: a.actor_type, actor_id: a.actor_id, target_type: a.target_type, target_id: a.target_id, details: a.details }))).toEqual([
      { actor_type: 'staff', actor_id: users.owner.userId, target_type: 'code', target_id: ids[1], details: { reason: 'supplier dispute, batch check' } },
      { actor_type: 'staff', actor_id: users.support.userId, target_type: 'code', target_id: ids[0], details: { reason: 'ticket 4411: customer says the code is rejected' } },
    ]);
    // the audit trail holds the reason, never the secret
    expect(JSON.stringify(audit).includes('TOPSECRET')).toBe(false);
  });

  it('revealing an unknown code answers 404', async () => {
    const res = await t.inject({ method: 'POST', url: '/admin/vault/codes/cod_01J0000000000000000000000Z/reveal', headers: as('owner'), payload: { reason: 'checking a code' } });
    expect(res.statusCode).toBe(404);
  });
});

describe('void', () => {
  it('moves an available code to voided; voiding it again answers 409 and changes nothing', async () => {
    const sku = await makeSku(t);
    const imported = await t.inject({ method: 'POST', url: '/admin/vault/imports/text', headers: as('operations'), payload: { sku_id: sku, supplier: 'acme', unit_cost_fen: 5, text: 'VOIDME-0001\nKEEPME-0002' } });
    expect(imported.statusCode).toBe(201);
    const ids = await codeIdsOf(sku);
    expect(ids).toHaveLength(2);
    const secrets = await t.services.vault.openCodes(ids);
    const target = ids.find((id) => secrets.get(id)!.secret === 'VOIDME-0001')!;
    const before = await t.inject({ method: 'GET', url: `/admin/vault/codes/${target}`, headers: as('operations') });
    expect(before.json()).toMatchObject({ state: 'available', events: [] });

    const res = await t.inject({ method: 'POST', url: `/admin/vault/codes/${target}/void`, headers: as('operations'), payload: { reason: 'leaked in a group chat' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true });

    const after = await t.inject({ method: 'GET', url: `/admin/vault/codes/${target}`, headers: as('operations') });
    const view = after.json();
    expect(view.state).toBe('voided');
    expect(view.events).toHaveLength(1);
    expect(view.events[0]).toMatchObject({ from: 'available', to: 'voided', actor_type: 'staff', actor_id: users.operations.userId, ref: 'leaked in a group chat' });

    const stock = (await t.inject({ method: 'GET', url: `/admin/stock?sku_id=${sku}`, headers: as('operations') })).json().data[0];
    expect(stock).toMatchObject({ available: 1, voided: 1 });

    const again = await t.inject({ method: 'POST', url: `/admin/vault/codes/${target}/void`, headers: as('operations'), payload: { reason: 'leaked again somewhere' } });
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toEqual({
      code: 'CONFLICT',
      message: 'cannot void 1 code(s): not in available or reserved or sold or delivered or revealed',
      details: { event: 'void', refused: [{ id: target, state: 'voided' }] },
    });
    const unchanged = await t.inject({ method: 'GET', url: `/admin/vault/codes/${target}`, headers: as('operations') });
    expect(unchanged.json()).toEqual(view);
    expect((await t.inject({ method: 'GET', url: `/admin/stock?sku_id=${sku}`, headers: as('operations') })).json().data[0]).toMatchObject({ available: 1, voided: 1 });

    // the other code was not touched
    const other = ids.find((id) => id !== target)!;
    expect((await t.inject({ method: 'GET', url: `/admin/vault/codes/${other}`, headers: as('operations') })).json()).toMatchObject({ state: 'available', events: [] });
  });

  it('void needs a reason and vault:import; an unknown code answers 409 naming it', async () => {
    const sku = await makeSku(t);
    await t.inject({ method: 'POST', url: '/admin/vault/imports/text', headers: as('operations'), payload: { sku_id: sku, supplier: 'acme', unit_cost_fen: 5, text: 'VOIDME-0003' } });
    const [id] = await codeIdsOf(sku);
    expect((await t.inject({ method: 'POST', url: `/admin/vault/codes/${id}/void`, headers: as('operations'), payload: {} })).statusCode).toBe(400);
    for (const role of ['support', 'readonly', 'finance'] as const) {
      expect((await t.inject({ method: 'POST', url: `/admin/vault/codes/${id}/void`, headers: as(role), payload: { reason: 'leaked in a group chat' } })).statusCode).toBe(403);
    }
    expect((await t.inject({ method: 'GET', url: `/admin/vault/codes/${id}`, headers: as('owner') })).json().state).toBe('available');
    const unknown = await t.inject({ method: 'POST', url: '/admin/vault/codes/cod_01J0000000000000000000000Z/void', headers: as('owner'), payload: { reason: 'leaked in a group chat' } });
    expect(unknown.statusCode).toBe(409);
    expect(unknown.json().error.details).toEqual({ event: 'void', refused: [{ id: 'cod_01J0000000000000000000000Z', state: 'not found' }] });
  });
});




const ask = (token: string, body: Record<string, unknown>) => t.inject({ method: 'POST', url: '/admin/vault/exports', headers: auth(token), payload: body });
const act = (token: string, id: string, what: 'approve' | 'reject', reason?: string) =>
  t.inject({ method: 'POST', url: `/admin/vault/exports/${id}/${what}`, headers: auth(token), payload: what === 'reject' ? { reason } : undefined });
const download = (token: string, id: string) => t.inject({ method: 'GET', url: `/admin/vault/exports/${id}/download`, headers: auth(token) });
const exportView = async (id: string) => {
  const res = await t.inject({ method: 'GET', url: '/admin/vault/exports?limit=100', headers: auth(a.token) });
  return res.json().data.find((e: { id: string }) => e.id === id);
};
const auditOf = async (action: string, targetId: string) =>
  (await t.services.audit.list({ limit: 100, action })).data.filter((e) => e.target_id === targetId).map((e) => ({ actor_id: e.actor_id, target_type: e.target_type, details: e.details }));

/** What a CSV cell must look like: a leading = + - @ is made text with a quote. */
const neutral = (v: string) => (/^[=+\-@]/.test(v) ? `'${v}` : v);

describe('export: asked by one, approved by another, downloaded once by the asker', () => {
  let exportId: string;

  it('A asks (201, pending)', async () => {
    const res = await ask(a.token, { sku_id: exportSku, max_codes: 50, reason: 'audit of supplier acme' });
    expect(res.statusCode).toBe(201);
    const view = res.json();
    expect(view).toMatchObject({ sku_id: exportSku, batch_id: null, state: 'available', max_codes: 50, reason: 'audit of supplier acme', status: 'pending', requested_by: a.userId, approved_by: null, decided_at: null, downloaded_at: null, exported_count: null });
    exportId = view.id;
    expect(exportId).toMatch(/^exp_/);
  });

  it('nobody downloads a pending export, not even A (409), and trying does not use it up', async () => {
    const res = await download(a.token, exportId);
    expect(res.statusCode).toBe(409);
    expect(res.json().error.message).toBe('export is pending; it must be approved, and downloads only once');
    expect((await exportView(exportId)).status).toBe('pending');
  });

  it('A approving their own export gets 403; it stays pending', async () => {
    const res = await act(a.token, exportId, 'approve');
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatchObject({ code: 'FORBIDDEN', message: 'a second person must approve an export: you asked for this one' });
    const rej = await act(a.token, exportId, 'reject', 'changed my mind');
    expect(rej.statusCode).toBe(403);
    expect(await exportView(exportId)).toMatchObject({ status: 'pending', approved_by: null });
  });

  it('roles without vault:export can neither ask nor approve', async () => {
    for (const token of [ops, readonly]) {
      expect((await ask(token, { sku_id: exportSku, max_codes: 5, reason: 'just looking' })).statusCode).toBe(403);
      expect((await act(token, exportId, 'approve')).statusCode).toBe(403);
      expect((await download(token, exportId)).statusCode).toBe(403);
    }
    expect((await exportView(exportId)).status).toBe('pending');
  });

  it('B approves', async () => {
    const res = await act(b.token, exportId, 'approve');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: exportId, status: 'approved', requested_by: a.userId, approved_by: b.userId, rejected_reason: null });
    expect(res.json().decided_at).not.toBeNull();
    // approving twice is a conflict
    expect((await act(b.token, exportId, 'approve')).statusCode).toBe(409);
  });

  it('B, who approved, cannot download (403), and that does not use it up', async () => {
    const res = await download(b.token, exportId);
    expect(res.statusCode).toBe(403);
    expect(res.json().error.message).toBe('only the person who asked for an export may download it');
    expect(res.body.includes('EXPORT-SECRET')).toBe(false);
    expect((await exportView(exportId)).status).toBe('approved');
  });

  it('A downloads the CSV: named and watermarked, one row per code with the clear secret, formulas neutralised', async () => {
    const res = await download(a.token, exportId);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="kaquan-export-${exportId}.csv"`);
    expect(res.headers['cache-control']).toBe('no-store');

    const lines = res.body.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^# kaquan export ${exportId} for ${a.userId}, approved by ${b.userId}, at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z; confidential$`));
    expect(lines[1]).toBe('code_id,card_number,secret,expires_at,watermark');
    expect(lines.at(-1)).toBe('');

    const parsed = Papa.parse<string[]>(lines.slice(1).join('\n'), { skipEmptyLines: true }).data;
    expect(parsed[0]).toEqual(['code_id', 'card_number', 'secret', 'expires_at', 'watermark']);
    const rows = parsed.slice(1);
    expect(rows).toHaveLength(8);
    expect(rows.map((r) => r[0])).toEqual(exportCodeIds);

    const opened = await t.services.vault.openCodes(exportCodeIds);
    const marks = new Set<string>();
    for (const [codeId, card, secret, expires, mark] of rows) {
      const clear = opened.get(codeId!)!;
      expect(secret).toBe(neutral(clear.secret));
      expect(card).toBe(neutral(clear.cardNumber ?? ''));
      if (clear.secret === 'EXPORT-SECRET-0001') expect(new Date(expires!).toISOString()).toBe('2099-01-01T00:00:00.000Z');
      else expect(expires).toBe('');
      expect(mark).toBe(`${a.userId}.${hmacSha256Hex(t.platform.hmacKey, `${exportId}:${a.userId}:${codeId}`).slice(0, 12)}`);
      expect(mark!.startsWith(`${a.userId}.`)).toBe(true);
      marks.add(mark!);
    }
    expect(marks.size).toBe(8);

    // exactly what the file holds for the dangerous cells
    const bySecret = new Map([...opened.entries()].map(([id, c]) => [c.secret, rows.find((r) => r[0] === id)!]));
    expect(bySecret.get('+ABCDEFG')![2]).toBe("'+ABCDEFG");
    expect(bySecret.get('=SUM(A1:A9)')![2]).toBe("'=SUM(A1:A9)");
    expect(bySecret.get('-MINUS007')![2]).toBe("'-MINUS007");
    expect(bySecret.get('@AT00008')![2]).toBe("'@AT00008");
    expect(bySecret.get('CARDEQ-0005')![1]).toBe("'=HACK");
    expect(bySecret.get('QUO"TE,0006')![2]).toBe('QUO"TE,0006');
    expect(res.body).toContain(',"QUO""TE,0006",');
    for (const line of lines.slice(2)) expect(line, line).not.toMatch(/(^|,)"?[=+\-@]/);

    expect(await exportView(exportId)).toMatchObject({ status: 'downloaded', exported_count: 8 });
    expect((await exportView(exportId)).downloaded_at).not.toBeNull();
  });

  it('a second download answers 409 and gives nothing', async () => {
    const res = await download(a.token, exportId);
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toEqual({ code: 'CONFLICT', message: 'export is downloaded; it must be approved, and downloads only once', details: null });
    expect(res.body.includes('EXPORT-SECRET')).toBe(false);
  });

  it('each step is in the audit trail, with who did it', async () => {
    expect(await auditOf('vault.export_requested', exportId)).toEqual([{ actor_id: a.userId, target_type: 'export', details: { sku_id: exportSku, max_codes: 50, reason: 'audit of supplier acme' } }]);
    expect(await auditOf('vault.export_approved', exportId)).toEqual([{ actor_id: b.userId, target_type: 'export', details: { reason: null } }]);
    expect(await auditOf('vault.export_downloaded', exportId)).toEqual([{ actor_id: a.userId, target_type: 'export', details: { count: 8, sku_id: exportSku } }]);
    expect(await auditOf('vault.export_rejected', exportId)).toEqual([]);
    // the trail never holds a secret
    const all = await t.services.audit.list({ limit: 100 });
    expect(JSON.stringify(all).includes('EXPORT-SECRET')).toBe(false);
  });
});

describe('rejected and limited exports', () => {
  it('a rejected export cannot be approved or downloaded; the rejection is audited', async () => {
    const asked = await ask(a.token, { sku_id: exportSku, max_codes: 10, reason: 'for the monthly reconciliation' });
    expect(asked.statusCode).toBe(201);
    const id = asked.json().id;
    const res = await act(b.token, id, 'reject', 'not needed this month');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'rejected', approved_by: b.userId, rejected_reason: 'not needed this month' });

    const dl = await download(a.token, id);
    expect(dl.statusCode).toBe(409);
    expect(dl.json().error.message).toBe('export is rejected; it must be approved, and downloads only once');
    expect(dl.body.includes('EXPORT-SECRET')).toBe(false);
    expect((await act(b.token, id, 'approve')).statusCode).toBe(409);
    expect(await exportView(id)).toMatchObject({ status: 'rejected', downloaded_at: null, exported_count: null });

    expect(await auditOf('vault.export_requested', id)).toEqual([{ actor_id: a.userId, target_type: 'export', details: { sku_id: exportSku, max_codes: 10, reason: 'for the monthly reconciliation' } }]);
    expect(await auditOf('vault.export_rejected', id)).toEqual([{ actor_id: b.userId, target_type: 'export', details: { reason: 'not needed this month' } }]);
    expect(await auditOf('vault.export_approved', id)).toEqual([]);
    expect(await auditOf('vault.export_downloaded', id)).toEqual([]);
  });

  it('max_codes limits the file (first codes by id); B may ask and A approve', async () => {
    const asked = await ask(b.token, { sku_id: exportSku, max_codes: 3, reason: 'spot check of three codes' });
    const id = asked.json().id;
    expect((await act(a.token, id, 'approve')).statusCode).toBe(200);
    expect((await download(a.token, id)).statusCode).toBe(403);
    const res = await download(b.token, id);
    expect(res.statusCode).toBe(200);
    const rows = Papa.parse<string[]>(res.body.split('\n').slice(2).join('\n'), { skipEmptyLines: true }).data;
    expect(rows.map((r) => r[0])).toEqual(exportCodeIds.slice(0, 3));
    expect(rows.every((r) => r[4]!.startsWith(`${b.userId}.`))).toBe(true);
    expect(await exportView(id)).toMatchObject({ status: 'downloaded', exported_count: 3, requested_by: b.userId, approved_by: a.userId });
  });

  it('asking needs a reason and a sane max_codes (400 naming the field)', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ sku_id: exportSku, max_codes: 5 }, 'reason'],
      [{ sku_id: exportSku, max_codes: 5, reason: 'x' }, 'reason'],
      [{ sku_id: exportSku, max_codes: 0, reason: 'spot check' }, 'max_codes'],
      [{ sku_id: exportSku, max_codes: 50_001, reason: 'spot check' }, 'max_codes'],
      [{ max_codes: 5, reason: 'spot check' }, 'sku_id'],
    ];
    for (const [body, field] of cases) {
      const res = await ask(a.token, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.details[0].field).toBe(field);
    }
  });

  it('an unknown export answers 404', async () => {
    expect((await act(b.token, 'exp_01J0000000000000000000000Z', 'approve')).statusCode).toBe(404);
    expect((await download(a.token, 'exp_01J0000000000000000000000Z')).statusCode).toBe(404);
  });
});


