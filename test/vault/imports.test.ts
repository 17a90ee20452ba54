import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ExcelJS from 'exceljs';
import { bootTestApp, type TestApp } from '../helpers/boot.js';
import { isWellFormed, type CodePattern } from '../../src/modules/vault/code-pattern.js';
import { auth, batchesOfSku, codesOfSku, importsOfSku, makeSku, multipart } from './helpers.js';

let t: TestApp;
let ops: { token: string; userId: string };
let support: string;
let readonly: string;

beforeAll(async () => {
  t = await bootTestApp();
  ops = await t.loginAs('operations');
  support = (await t.loginAs('support')).token;
  readonly = (await t.loginAs('readonly')).token;
});
afterAll(() => t.close());

const importUrl = (q: Record<string, string | number>) => `/admin/vault/imports?${new URLSearchParams(Object.entries(q).map(([k, v]) => [k, String(v)]))}`;

async function upload(q: Record<string, string | number>, file: { name: string; content: string | Buffer; type: string }, token = ops.token) {
  const body = await multipart(file.name, file.content, file.type);
  return t.inject({ method: 'POST', url: importUrl(q), headers: { ...auth(token), ...body.headers }, payload: body.payload });
}

const importText = (body: Record<string, unknown>, token = ops.token) => t.inject({ method: 'POST', url: '/admin/vault/imports/text', headers: auth(token), payload: body });

const stockOf = async (skuId: string) => {
  const res = await t.inject({ method: 'GET', url: `/admin/stock?sku_id=${skuId}`, headers: auth(ops.token) });
  expect(res.statusCode).toBe(200);
  return res.json().data[0];
};

const listCodes = async (query: string) => {
  const res = await t.inject({ method: 'GET', url: `/admin/vault/codes?${query}&limit=100`, headers: auth(ops.token) });
  expect(res.statusCode).toBe(200);
  return res.json().data as { id: string; batch_id: string; secret_masked: string; state: string; expires_at: string | null }[];
};

const byLine = (r: { line: number; reason: string }[]) => [...r].sort((a, b) => a.line - b.line);

/** Good rows and one of every kind of bad row; the comments are the file's line numbers. */
const mixedCsv = [
  'card_number,secret,expires_at', // 1
  'C001,GOOD-SECRET-1001,2099-01-01T00:00:00Z', // 2 good
  'C002,,2099-01-01', // 3 empty secret
  'C003,abc,', // 4 too short
  'C004,HAS SPACE 1004,', // 5 spaces
  '', // 6 blank, skipped
  '"C005,X",GOOD-SECRET-1002,', // 7 good, quoted comma
  'C006,GOOD-SECRET-1001,', // 8 duplicate inside the file
  'C007,OLD-SECRET-9001,', // 9 already in the vault
  'C008,GOOD-SECRET-1008,2020-01-01', // 10 expired
  'C009,GOOD-SECRET-1009,someday', // 11 unparsable date
  'C010,GOOD-SECRET-1005,', // 12 good
].join('\n');

const mixedRejections = [
  { line: 3, reason: 'secret is empty' },
  { line: 4, reason: 'secret is shorter than 4 characters' },
  { line: 5, reason: 'secret contains spaces or control characters' },
  { line: 8, reason: 'duplicate: appears earlier in this file' },
  { line: 9, reason: 'duplicate: already in the vault' },
  { line: 10, reason: 'already expired' },
  { line: 11, reason: 'expiry "someday" is not a date' },
];

describe('file import with good and bad rows', () => {
  let skuId: string;
  const q = () => ({ sku_id: skuId, supplier: 'acme', unit_cost_fen: 9_100 });

  beforeAll(async () => {
    skuId = await makeSku(t);
    // one code already in the vault (pasted text, default mode all_or_nothing)
    const res = await importText({ sku_id: skuId, supplier: 'old', unit_cost_fen: 9_000, text: 'OLD-SECRET-9001\n' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ status: 'completed', mode: 'all_or_nothing', source: 'text', total_rows: 1, accepted: 1, rejected: 0, rejections: [] });
  });

  it('all_or_nothing: 422, every bad row with its line and reason, and nothing stored', async () => {
    expect(await codesOfSku(t, skuId)).toBe(1);
    expect(await batchesOfSku(t, skuId)).toBe(1);

    const res = await upload({ ...q(), mode: 'all_or_nothing' }, { name: 'codes.csv', content: mixedCsv, type: 'text/csv' });
    expect(res.statusCode).toBe(422);
    const report = res.json();
    expect(report).toMatchObject({ sku_id: skuId, batch_id: null, source: 'csv', mode: 'all_or_nothing', status: 'rejected', total_rows: 10, accepted: 0, rejected: 7 });
    expect(byLine(report.rejections)).toEqual(mixedRejections);
    expect(report.id).toMatch(/^imp_/);
    expect(report.finished_at).not.toBeNull();

    expect(await codesOfSku(t, skuId)).toBe(1);
    expect(await batchesOfSku(t, skuId)).toBe(1);
    expect((await stockOf(skuId)).available).toBe(1);

    // the report is kept
    const again = await t.inject({ method: 'GET', url: `/admin/vault/imports/${report.id}`, headers: auth(ops.token) });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(report);
  });

  it('the default mode is all_or_nothing', async () => {
    const res = await upload(q(), { name: 'codes.csv', content: mixedCsv, type: 'text/csv' });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ mode: 'all_or_nothing', status: 'rejected', accepted: 0, rejected: 7 });
    expect(await codesOfSku(t, skuId)).toBe(1);
  });

  it('accept_valid: 201, the good rows become available, the bad ones are reported', async () => {
    const res = await upload({ ...q(), mode: 'accept_valid' }, { name: 'codes.csv', content: mixedCsv, type: 'text/csv' });
    expect(res.statusCode).toBe(201);
    const report = res.json();
    expect(report).toMatchObject({ sku_id: skuId, source: 'csv', mode: 'accept_valid', status: 'completed', total_rows: 10, accepted: 3, rejected: 7 });
    expect(byLine(report.rejections)).toEqual(mixedRejections);
    expect(report.batch_id).toMatch(/^bat_/);

    expect(await codesOfSku(t, skuId)).toBe(4);
    expect(await stockOf(skuId)).toEqual({
      sku_id: skuId,
      available: 4,
      available_free: 4,
      available_allocated: 0,
      reserved: 0,
      sold: 0,
      delivered: 0,
      revealed: 0,
      redeemed: 0,
      expired: 0,
      voided: 0,
      expiring_soon: 0,
    });

    const inBatch = await listCodes(`sku_id=${skuId}&batch_id=${report.batch_id}`);
    expect(inBatch.map((c) => [c.secret_masked, c.state, c.expires_at]).sort()).toEqual([
      ['********1001', 'available', '2099-01-01T00:00:00.000Z'],
      ['********1002', 'available', null],
      ['********1005', 'available', null],
    ]);
    const all = await listCodes(`sku_id=${skuId}`);
    expect(all.map((c) => c.secret_masked).sort()).toEqual(['********1001', '********1002', '********1005', '********9001']);

    // what was stored is what the file said
    const opened = await t.services.vault.openCodes(inBatch.map((c) => c.id));
    expect([...opened.values()].sort((a, b) => a.secret.localeCompare(b.secret))).toEqual([
      { cardNumber: 'C001', secret: 'GOOD-SECRET-1001' },
      { cardNumber: 'C005,X', secret: 'GOOD-SECRET-1002' },
      { cardNumber: 'C010', secret: 'GOOD-SECRET-1005' },
    ]);

    const batches = await t.inject({ method: 'GET', url: `/admin/vault/batches?sku_id=${skuId}`, headers: auth(ops.token) });
    expect(batches.json().data.find((b: { id: string }) => b.id === report.batch_id)).toMatchObject({
      sku_id: skuId,
      origin: 'imported',
      supplier: 'acme',
      unit_cost_fen: 9_100,
      region: 'CN',
      imported_by: ops.userId,
      code_count: 3,
    });

    const audit = await t.services.audit.list({ limit: 10, action: 'vault.import' });
    expect(audit.data.find((a) => a.target_id === report.batch_id)).toMatchObject({
      actor_id: ops.userId,
      details: { sku_id: skuId, import_id: report.id, accepted: 3, rejected: 7, source: 'csv' },
    });

    const kept = await t.inject({ method: 'GET', url: `/admin/vault/imports/${report.id}`, headers: auth(ops.token) });
    expect(kept.json()).toEqual(report);
  });

  it('importing the same file again stores nothing new: every good row is now a duplicate', async () => {
    const res = await upload({ ...q(), mode: 'accept_valid' }, { name: 'codes.csv', content: mixedCsv, type: 'text/csv' });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ status: 'rejected', accepted: 0, rejected: 10, batch_id: null });
    expect(byLine(res.json().rejections).filter((r) => [2, 7, 12].includes(r.line))).toEqual([
      { line: 2, reason: 'duplicate: already in the vault' },
      { line: 7, reason: 'duplicate: already in the vault' },
      { line: 12, reason: 'duplicate: already in the vault' },
    ]);
    expect(await codesOfSku(t, skuId)).toBe(4);
    expect(await batchesOfSku(t, skuId)).toBe(2);
  });

  it('an empty file is rejected with a reason', async () => {
    const res = await upload({ ...q(), mode: 'accept_valid' }, { name: 'empty.csv', content: '\n\n', type: 'text/csv' });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ status: 'rejected', total_rows: 0, accepted: 0, rejected: 1, rejections: [{ line: 0, reason: 'the file has no rows' }] });
  });

  it('a batch expiry and region from the query apply to rows without their own', async () => {
    const sku = await makeSku(t);
    const res = await upload(
      { sku_id: sku, supplier: 'acme', unit_cost_fen: 1, expires_at: '2098-05-01T00:00:00Z', region: 'CN-GD' },
      { name: 'c.csv', content: 'card_number,secret,expires_at\nA,BATCHEXP-0001,\nB,BATCHEXP-0002,2097-01-01T00:00:00Z\n', type: 'text/csv' },
    );
    expect(res.statusCode).toBe(201);
    expect((await listCodes(`sku_id=${sku}`)).map((c) => [c.secret_masked, c.expires_at]).sort()).toEqual([
      ['********0001', '2098-05-01T00:00:00.000Z'],
      ['********0002', '2097-01-01T00:00:00.000Z'],
    ]);
    const batches = await t.inject({ method: 'GET', url: `/admin/vault/batches?sku_id=${sku}`, headers: auth(ops.token) });
    expect(batches.json().data[0]).toMatchObject({ region: 'CN-GD', expires_at: '2098-05-01T00:00:00.000Z', code_count: 2 });
  });
});

describe('large files', () => {
  it('all_or_nothing over several chunks: codes staged before the first bad row are removed; duplicates are found before and after it', async () => {
    const sku = await makeSku(t);
    const seeded = await importText({ sku_id: sku, supplier: 'old', unit_cost_fen: 1, text: 'IN-VAULT-AAAA\nIN-VAULT-BBBB\n' });
    expect(seeded.statusCode).toBe(201);
    const lines = Array.from({ length: 4500 }, (_, i) => `BULK-${String(i + 1).padStart(8, '0')}`);
    lines[9] = 'IN-VAULT-AAAA'; // line 10, in the first chunk of 2,000: found when inserting
    lines[2999] = 'ab'; // line 3000, the first bad row: after 2,000 codes were staged
    lines[3999] = 'IN-VAULT-BBBB'; // line 4000, after the file is known bad: found by lookup
    const res = await importText({ sku_id: sku, supplier: 'bulk', unit_cost_fen: 1, text: lines.join('\n') });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ status: 'rejected', total_rows: 4500, accepted: 0, rejected: 3, batch_id: null });
    expect(byLine(res.json().rejections)).toEqual([
      { line: 10, reason: 'duplicate: already in the vault' },
      { line: 3000, reason: 'secret is shorter than 4 characters' },
      { line: 4000, reason: 'duplicate: already in the vault' },
    ]);
    expect(await codesOfSku(t, sku)).toBe(2);
    expect(await batchesOfSku(t, sku)).toBe(1);
    expect((await stockOf(sku)).available).toBe(2);
  });

  it('counts are exact when more than 1,000 rows are rejected; the report keeps the first 1,000', async () => {
    const sku = await makeSku(t);
    const lines = Array.from({ length: 1205 }, (_, i) => (i % 100 === 50 ? `MANY-GOOD-${String(i).padStart(6, '0')}` : 'ab'));
    const res = await importText({ sku_id: sku, supplier: 'bulk', unit_cost_fen: 1, mode: 'accept_valid', text: lines.join('\n') });
    expect(res.statusCode).toBe(201);
    const report = res.json();
    expect(report).toMatchObject({ status: 'completed', total_rows: 1205, accepted: 12, rejected: 1193 });
    expect(report.rejections).toHaveLength(1000);
    expect(report.rejections[0]).toEqual({ line: 1, reason: 'secret is shorter than 4 characters' });
    expect(await codesOfSku(t, sku)).toBe(12);
  });
});

describe('other sources', () => {
  it('XLSX upload with a Chinese header and a date cell', async () => {
    const sku = await makeSku(t);
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('卡密');
    ws.addRow(['卡号', '卡密', '有效期']);
    ws.addRow(['X1', 'XLSX-SECRET-0001', new Date('2099-03-01T00:00:00Z')]);
    ws.addRow(['X2', 'XLSX-SECRET-0002', '2099-04-01T00:00:00Z']);
    ws.addRow(['X3', 'XLSX-SECRET-0003']);
    ws.addRow(['X4', 'XL', '']);
    const buf = Buffer.from(await wb.xlsx.writeBuffer());

    const res = await upload({ sku_id: sku, supplier: 'acme', unit_cost_fen: 100, mode: 'accept_valid' }, { name: 'codes.xlsx', content: buf, type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ source: 'xlsx', status: 'completed', total_rows: 4, accepted: 3, rejected: 1, rejections: [{ line: 5, reason: 'secret is shorter than 4 characters' }] });
    expect((await listCodes(`sku_id=${sku}`)).map((c) => [c.secret_masked, c.expires_at]).sort()).toEqual([
      ['********0001', '2099-03-01T00:00:00.000Z'],
      ['********0002', '2099-04-01T00:00:00.000Z'],
      ['********0003', null],
    ]);
    expect((await stockOf(sku)).available).toBe(3);
  });

  it('a .txt file is read as pasted text', async () => {
    const sku = await makeSku(t);
    const res = await upload({ sku_id: sku, supplier: 'acme', unit_cost_fen: 100 }, { name: 'codes.txt', content: 'T1\tTXT-SECRET-0001\nT2，TXT-SECRET-0002\n', type: 'text/plain' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ source: 'text', accepted: 2 });
    const ids = (await listCodes(`sku_id=${sku}`)).map((c) => c.id);
    expect([...(await t.services.vault.openCodes(ids)).values()].sort((a, b) => a.secret.localeCompare(b.secret))).toEqual([
      { cardNumber: 'T1', secret: 'TXT-SECRET-0001' },
      { cardNumber: 'T2', secret: 'TXT-SECRET-0002' },
    ]);
  });

  it('pasted text: tabs, commas and spaces; bad lines reported with their line number', async () => {
    const sku = await makeSku(t);
    const text = 'P1\tPASTE-SECRET-0001\nP2,PASTE-SECRET-0002\n\nP3   PASTE-SECRET-0003\nPASTE-SECRET-0004\nP5 ab\n';
    const res = await importText({ sku_id: sku, supplier: 'wechat', unit_cost_fen: 0, mode: 'accept_valid', text });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ source: 'text', mode: 'accept_valid', status: 'completed', total_rows: 5, accepted: 4, rejected: 1, rejections: [{ line: 6, reason: 'secret is shorter than 4 characters' }] });
    expect((await stockOf(sku)).available).toBe(4);

    const strict = await importText({ sku_id: sku, supplier: 'wechat', unit_cost_fen: 0, text: 'PASTE-SECRET-0005\nP6 ab\n' });
    expect(strict.statusCode).toBe(422);
    expect(strict.json()).toMatchObject({ status: 'rejected', accepted: 0, rejected: 1, rejections: [{ line: 2, reason: 'secret is shorter than 4 characters' }] });
    expect(await codesOfSku(t, sku)).toBe(4);
  });
});

describe('refused requests', () => {
  let skuId: string;
  beforeAll(async () => {
    skuId = await makeSku(t);
  });
  const good = () => ({ sku_id: skuId, supplier: 'acme', unit_cost_fen: 100 });
  const csv = { name: 'c.csv', content: 'secret\nREFUSED-0001\n', type: 'text/csv' };

  it('a .pdf answers 415 and stores nothing', async () => {
    const res = await upload(good(), { name: 'codes.pdf', content: '%PDF-1.4 REFUSED-0001', type: 'application/pdf' });
    expect(res.statusCode).toBe(415);
    expect(res.json().error).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE', message: 'upload a .csv, .xlsx or .txt file', details: [{ field: 'file', message: 'unsupported file type' }] });
    expect(await importsOfSku(t, skuId)).toBe(0);
    expect(await batchesOfSku(t, skuId)).toBe(0);
  });

  it('a .xlsx that is not a workbook answers 422 naming the file, not 500, and stores nothing', async () => {
    const sku = await makeSku(t);
    const res = await upload({ ...good(), sku_id: sku, mode: 'accept_valid' }, { name: 'codes.xlsx', content: 'secret\nNOT-A-WORKBOOK-1\n', type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' });
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toMatchObject({ code: 'UNPROCESSABLE', details: [{ field: 'file', message: 'could not be read' }] });
    expect(res.json().error.message).toMatch(/^file could not be read: /);
    expect(await codesOfSku(t, sku)).toBe(0);
    expect(await batchesOfSku(t, sku)).toBe(0);
    const { rows } = await t.platform.database.executeSql<{ status: string }>('select status from vault_imports where sku_id = $1', [sku]);
    expect(rows).toEqual([{ status: 'failed' }]);
  });

  it('a JSON body instead of multipart answers 415', async () => {
    const res = await t.inject({ method: 'POST', url: importUrl(good()), headers: auth(ops.token), payload: { file: 'REFUSED-0001' } });
    expect(res.statusCode).toBe(415);
    expect(res.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('missing or invalid query fields answer 400 naming the field', async () => {
    const cases: [Record<string, string | number>, string][] = [
      [{ supplier: 'acme', unit_cost_fen: 100 }, 'sku_id'],
      [{ ...good(), sku_id: 'sku_nope' }, 'sku_id'],
      [{ sku_id: skuId, unit_cost_fen: 100 }, 'supplier'],
      [{ ...good(), supplier: '' }, 'supplier'],
      [{ sku_id: skuId, supplier: 'acme' }, 'unit_cost_fen'],
      [{ ...good(), unit_cost_fen: -1 }, 'unit_cost_fen'],
      [{ ...good(), unit_cost_fen: 'ten' }, 'unit_cost_fen'],
      [{ ...good(), mode: 'sometimes' }, 'mode'],
      [{ ...good(), expires_at: 'tomorrow' }, 'expires_at'],
      [{ ...good(), region: 'china' }, 'region'],
      [{ ...good(), colour: 'red' }, 'colour'],
    ];
    for (const [query, field] of cases) {
      const res = await upload(query, csv);
      expect(res.statusCode, JSON.stringify(query)).toBe(400);
      const error = res.json().error;
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.details.map((d: { field: string }) => d.field), JSON.stringify(query)).toContain(field);
      expect(error.message.startsWith(`${field}:`), error.message).toBe(true);
    }
    expect(await importsOfSku(t, skuId)).toBe(0);
  });

  it('a batch expiry that has already passed answers 400 naming expires_at, and stores nothing', async () => {
    const expected = { code: 'VALIDATION_FAILED', message: 'expires_at: has already passed', details: [{ field: 'expires_at', message: 'has already passed' }] };
    const res = await upload({ ...good(), expires_at: '2020-01-01T00:00:00Z' }, csv);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toEqual(expected);
    const text = await importText({ ...good(), expires_at: '2020-01-01T00:00:00Z', text: 'REFUSED-0001' });
    expect(text.statusCode).toBe(400);
    expect(text.json().error).toEqual(expected);
    const gen = await t.inject({ method: 'POST', url: '/admin/vault/generate', headers: auth(ops.token), payload: { sku_id: skuId, count: 1, expires_at: '2020-01-01T00:00:00Z', pattern: { charset: 'safe', length: 14 } } });
    expect(gen.statusCode).toBe(400);
    expect(gen.json().error).toEqual(expected);
    expect(await codesOfSku(t, skuId)).toBe(0);
    expect(await batchesOfSku(t, skuId)).toBe(0);
    expect(await importsOfSku(t, skuId)).toBe(0);
  });

  it('a multipart body without a file answers 400 naming the field', async () => {
    const form = new FormData();
    form.append('note', 'no file here');
    const req = new Request('http://x', { method: 'POST', body: form });
    const res = await t.inject({ method: 'POST', url: importUrl(good()), headers: { ...auth(ops.token), 'content-type': req.headers.get('content-type')! }, payload: Buffer.from(await req.arrayBuffer()) });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ field: 'file', message: 'missing' }] });
  });

  it('pasted text: missing or invalid body fields answer 400 naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ supplier: 'acme', unit_cost_fen: 1, text: 'REFUSED-0001' }, 'sku_id'],
      [{ sku_id: skuId, supplier: 'acme', unit_cost_fen: 1 }, 'text'],
      [{ sku_id: skuId, supplier: 'acme', unit_cost_fen: '1', text: 'REFUSED-0001' }, 'unit_cost_fen'],
      [{ sku_id: skuId, supplier: 'acme', unit_cost_fen: 1, text: '' }, 'text'],
    ];
    for (const [body, field] of cases) {
      const res = await importText(body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.details.map((d: { field: string }) => d.field)).toContain(field);
    }
  });

  it('an unknown SKU answers 404; an unknown import 404', async () => {
    const res = await upload({ ...good(), sku_id: 'sku_01J0000000000000000000000Z' }, csv);
    expect(res.statusCode).toBe(404);
    const imp = await t.inject({ method: 'GET', url: '/admin/vault/imports/imp_01J0000000000000000000000Z', headers: auth(ops.token) });
    expect(imp.statusCode).toBe(404);
  });

  it('a top-up SKU holds no codes: refused naming sku_id, nothing stored', async () => {
    const topup = await makeSku(t, 'topup');
    const res = await upload({ ...good(), sku_id: topup }, csv);
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toEqual({ code: 'UNPROCESSABLE', message: 'direct top-up SKUs hold no codes', details: [{ field: 'sku_id', message: 'is a top-up SKU' }] });
    const text = await importText({ sku_id: topup, supplier: 'acme', unit_cost_fen: 1, text: 'REFUSED-0001' });
    expect(text.statusCode).toBe(422);
    expect(text.json().error.details).toEqual([{ field: 'sku_id', message: 'is a top-up SKU' }]);
    const gen = await t.inject({ method: 'POST', url: '/admin/vault/generate', headers: auth(ops.token), payload: { sku_id: topup, count: 1, pattern: { charset: 'safe', length: 14 } } });
    expect(gen.statusCode).toBe(422);
    expect(await codesOfSku(t, topup)).toBe(0);
    expect(await batchesOfSku(t, topup)).toBe(0);
  });

  it('support and readonly (no vault:import) get 403 and nothing is stored', async () => {
    for (const token of [support, readonly]) {
      const res = await upload(good(), csv, token);
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('FORBIDDEN');
      const text = await importText({ ...good(), text: 'REFUSED-0001' }, token);
      expect(text.statusCode).toBe(403);
    }
    // support cannot read import reports either (no vault:read)
    const res = await t.inject({ method: 'GET', url: '/admin/vault/imports/imp_01J0000000000000000000000Z', headers: auth(support) });
    expect(res.statusCode).toBe(403);
    expect(await codesOfSku(t, skuId)).toBe(0);
    expect(await importsOfSku(t, skuId)).toBe(0);
  });

  it('without a session: 401', async () => {
    const body = await multipart(csv.name, csv.content, csv.type);
    const res = await t.inject({ method: 'POST', url: importUrl(good()), headers: body.headers, payload: body.payload });
    expect(res.statusCode).toBe(401);
  });
});

describe('generation', () => {
  it('a weak pattern (12 digits) answers 400 naming pattern.length, and generates nothing', async () => {
    const sku = await makeSku(t, 'cdk');
    const res = await t.inject({ method: 'POST', url: '/admin/vault/generate', headers: auth(ops.token), payload: { sku_id: sku, count: 10, pattern: { charset: 'digits', length: 12 } } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toEqual({
      code: 'VALIDATION_FAILED',
      message: 'pattern.length: pattern has 39.9 bits of randomness; at least 60 are needed (make it longer or use a larger charset)',
      details: [{ field: 'pattern.length', message: 'pattern has 39.9 bits of randomness; at least 60 are needed (make it longer or use a larger charset)' }],
    });
    expect(await codesOfSku(t, sku)).toBe(0);
    expect(await batchesOfSku(t, sku)).toBe(0);
  });

  it('bad charsets and prefixes are refused naming the field', async () => {
    const sku = await makeSku(t, 'cdk');
    const cases: [object, string][] = [
      [{ charset: 'AABBCCDD', length: 40 }, 'pattern.charset'],
      [{ charset: 'AB-CD', length: 40 }, 'pattern.charset'],
      [{ charset: 'safe', length: 14, prefix: 'K-Q' }, 'pattern.prefix'],
    ];
    for (const [pattern, field] of cases) {
      const res = await t.inject({ method: 'POST', url: '/admin/vault/generate', headers: auth(ops.token), payload: { sku_id: sku, count: 1, pattern } });
      expect(res.statusCode, JSON.stringify(pattern)).toBe(400);
      expect(res.json().error.details[0].field).toBe(field);
    }
    const unknownField = await t.inject({ method: 'POST', url: '/admin/vault/generate', headers: auth(ops.token), payload: { sku_id: sku, count: 1, pattern: { charset: 'safe', length: 14, salt: 'x' } } });
    expect(unknownField.statusCode).toBe(400);
    expect(unknownField.json().error.details[0].field).toBe('pattern.salt');
    expect(await codesOfSku(t, sku)).toBe(0);
  });

  it('a good pattern creates `count` well-formed, distinct codes in a generated batch', async () => {
    const sku = await makeSku(t, 'cdk');
    const pattern: CodePattern = { prefix: 'KQ', charset: 'safe', length: 14, checkDigit: true, groupSize: 4 };
    const res = await t.inject({
      method: 'POST',
      url: '/admin/vault/generate',
      headers: auth(ops.token),
      payload: { sku_id: sku, count: 250, expires_at: '2099-12-31T00:00:00Z', pattern: { prefix: 'KQ', charset: 'safe', length: 14, check_digit: true, group_size: 4 } },
    });
    expect(res.statusCode).toBe(201);
    const report = res.json();
    expect(report).toMatchObject({ sku_id: sku, source: 'generated', mode: 'all_or_nothing', status: 'completed', total_rows: 250, accepted: 250, rejected: 0, rejections: [] });
    expect(await codesOfSku(t, sku)).toBe(250);
    expect((await t.inject({ method: 'GET', url: `/admin/stock?sku_id=${sku}`, headers: auth(ops.token) })).json().data[0].available).toBe(250);

    const batches = await t.inject({ method: 'GET', url: `/admin/vault/batches?sku_id=${sku}`, headers: auth(ops.token) });
    expect(batches.json().data).toHaveLength(1);
    expect(batches.json().data[0]).toMatchObject({ id: report.batch_id, origin: 'generated', supplier: 'platform', unit_cost_fen: 0, code_count: 250, expires_at: '2099-12-31T00:00:00.000Z' });

    const ids = (await listCodes(`sku_id=${sku}`)).map((c) => c.id);
    expect(ids).toHaveLength(100);
    const secrets: string[] = [];
    for (const id of ids.slice(0, 12)) {
      const code = await t.services.vault.open(id);
      expect(code.cardNumber).toBeUndefined();
      expect(code.secret).toMatch(/^KQ[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{3}$/);
      expect(isWellFormed(code.secret, pattern)).toBe(true);
      secrets.push(code.secret);
    }
    expect(new Set(secrets).size).toBe(12);
    // and all 250, opened at once, are distinct
    const all = await t.platform.database.executeSql<{ id: string }>('select id from codes where sku_id = $1', [sku]);
    const opened = await t.services.vault.openCodes(all.rows.map((r) => r.id));
    const every = [...opened.values()].map((c) => c.secret);
    expect(new Set(every).size).toBe(250);
    expect(every.filter((s) => !isWellFormed(s, pattern))).toEqual([]);
  });

  it('support cannot generate (no vault:import)', async () => {
    const sku = await makeSku(t, 'cdk');
    const res = await t.inject({ method: 'POST', url: '/admin/vault/generate', headers: auth(support), payload: { sku_id: sku, count: 1, pattern: { charset: 'safe', length: 14 } } });
    expect(res.statusCode).toBe(403);
    expect(await codesOfSku(t, sku)).toBe(0);
  });
});
