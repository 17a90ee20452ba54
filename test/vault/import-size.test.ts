import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, type TestApp } from '../helpers/boot.js';
import { auth, batchesOfSku, codesOfSku, importsOfSku, makeSku, multipart } from './helpers.js';

let t: TestApp;
let token: string;
beforeAll(async () => {
  t = await bootTestApp({ env: { VAULT_IMPORT_MAX_BYTES: '2048' } });
  token = (await t.loginAs('operations')).token;
});
afterAll(() => t.close());

/** `n` good one-column rows, 17 bytes each with the newline. */
const rows = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}-${String(i).padStart(10, '0')}`).join('\n') + '\n';

async function upload(skuId: string, name: string, content: string, type: string, mode = 'accept_valid') {
  const body = await multipart(name, content, type);
  return t.inject({ method: 'POST', url: `/admin/vault/imports?sku_id=${skuId}&supplier=acme&unit_cost_fen=1&mode=${mode}`, headers: { ...auth(token), ...body.headers }, payload: body.payload });
}

describe('VAULT_IMPORT_MAX_BYTES', () => {
  it('the limit is configured', () => {
    expect(t.config.vaultImportMaxBytes).toBe(2048);
  });

  it('a file under the limit is imported whole', async () => {
    const sku = await makeSku(t);
    const content = rows(120, 'SMALL');
    expect(Buffer.byteLength(content)).toBe(2040);
    const res = await upload(sku, 'small.csv', content, 'text/csv');
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ status: 'completed', total_rows: 120, accepted: 120, rejected: 0 });
    expect(await codesOfSku(t, sku)).toBe(120);
  });

  for (const mode of ['accept_valid', 'all_or_nothing']) {
    for (const [name, type] of [
      ['big.csv', 'text/csv'],
      ['big.txt', 'text/plain'],
    ] as const) {
      it(`a larger ${name} (${mode}) answers 413 and stores nothing, not even its first rows`, async () => {
        const sku = await makeSku(t);
        const content = rows(400, `BIG${mode === 'accept_valid' ? 'A' : 'N'}${name.slice(-3).toUpperCase()}`);
        expect(Buffer.byteLength(content)).toBeGreaterThan(2048);
        const res = await upload(sku, name, content, type, mode);
        expect(res.statusCode).toBe(413);
        expect(res.json().error.code).toBe('PAYLOAD_TOO_LARGE');
        expect(await codesOfSku(t, sku)).toBe(0);
        expect(await batchesOfSku(t, sku)).toBe(0);
        // the attempt is on record as failed, with nothing published
        const { rows: imports } = await t.platform.database.executeSql<{ status: string; accepted: number; batch_id: string | null }>('select status, accepted, batch_id from vault_imports where sku_id = $1', [sku]);
        expect(imports).toEqual([{ status: 'failed', accepted: 0, batch_id: null }]);
        expect((await t.inject({ method: 'GET', url: `/admin/stock?sku_id=${sku}`, headers: auth(token) })).json().data[0].available).toBe(0);
      });
    }
  }

  it('an oversized XLSX answers 413 and stores nothing', async () => {
    const sku = await makeSku(t);
    const ExcelJS = (await import('exceljs')).default;
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('codes');
    for (let i = 0; i < 300; i++) ws.addRow([`XL-${i}`, `XLSXBIG-${String(i).padStart(8, '0')}`]);
    const buf = Buffer.from(await wb.xlsx.writeBuffer());
    expect(buf.length).toBeGreaterThan(2048);
    const body = await multipart('big.xlsx', buf, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    const res = await t.inject({ method: 'POST', url: `/admin/vault/imports?sku_id=${sku}&supplier=acme&unit_cost_fen=1&mode=accept_valid`, headers: { ...auth(token), ...body.headers }, payload: body.payload });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await codesOfSku(t, sku)).toBe(0);
    expect(await batchesOfSku(t, sku)).toBe(0);
    expect(await importsOfSku(t, sku)).toBeLessThanOrEqual(1);
  });
});
