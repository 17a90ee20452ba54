import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, type TestApp } from '../helpers/boot.js';
import { auth, codesOfSku, makeSku, multipart } from './helpers.js';

/** Imports asked with Accept: application/x-ndjson stream their progress, then the report (the admin panel's progress bar). */
let t: TestApp;
let ops: string;
beforeAll(async () => {
  t = await bootTestApp();
  ops = (await t.loginAs('operations')).token;
});
afterAll(() => t.close());

const ndjson = { accept: 'application/x-ndjson' };
type Line = { type: 'progress'; rows: number; accepted: number; rejected: number; import_id: string } | { type: 'report'; status: number; report: { id: string; status: string; total_rows: number; accepted: number; rejected: number; rejections: { line: number; reason: string }[] } } | { type: 'error'; status: number; error: { code: string } };
const linesOf = (body: string) => body.trim().split('\n').map((l) => JSON.parse(l) as Line);

/** 5,000 lines, line 4,321 repeats line 10. */
const bigText = (tag: string) => Array.from({ length: 5000 }, (_v, i) => `P-${tag}-${String(i === 4320 ? 9 : i).padStart(6, '0')}`).join('\n');

describe('import progress stream', () => {
  it('streams one progress line per written chunk, then the report, for pasted text', async () => {
    const skuId = await makeSku(t);
    const res = await t.inject({ method: 'POST', url: '/admin/vault/imports/text', headers: { ...auth(ops), ...ndjson }, payload: { sku_id: skuId, supplier: 'acme', unit_cost_fen: 100, mode: 'accept_valid', text: bigText('a') } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson');
    const lines = linesOf(res.body);
    const progress = lines.filter((l) => l.type === 'progress');
    // chunks of 2,000 rows: two full chunks and the last 1,000
    expect(progress.map((p) => p.accepted)).toEqual([2000, 4000, 4999]);
    expect(progress.at(-1)).toMatchObject({ rows: 5000, rejected: 1 });
    for (const [i, p] of progress.entries()) if (i > 0) expect(p.rows).toBeGreaterThanOrEqual(progress[i - 1]!.rows);
    const last = lines.at(-1)!;
    expect(last).toMatchObject({ type: 'report', status: 201, report: { status: 'completed', total_rows: 5000, accepted: 4999, rejected: 1, rejections: [{ line: 4321, reason: 'duplicate: appears earlier in this file' }] } });
    expect(progress.every((p) => p.import_id === (last as { report: { id: string } }).report.id)).toBe(true);
    expect(await codesOfSku(t, skuId)).toBe(4999);
  });

  it('streams a refused all-or-nothing file upload, ending with the 422 report and storing nothing', async () => {
    const skuId = await makeSku(t);
    const file = await multipart('codes.txt', bigText('b'), 'text/plain');
    const res = await t.inject({ method: 'POST', url: `/admin/vault/imports?sku_id=${skuId}&supplier=acme&unit_cost_fen=100`, headers: { ...auth(ops), ...ndjson, ...file.headers }, payload: file.payload });
    expect(res.statusCode).toBe(200);
    const lines = linesOf(res.body);
    expect(lines.filter((l) => l.type === 'progress').length).toBe(3);
    expect(lines.at(-1)).toMatchObject({ type: 'report', status: 422, report: { status: 'rejected', accepted: 0, rejected: 1, rejections: [{ line: 4321 }] } });
    expect(await codesOfSku(t, skuId)).toBe(0);
  });

  it('answers plain JSON when no row could be written, or the request is refused up front', async () => {
    const skuId = await makeSku(t);
    const small = await t.inject({ method: 'POST', url: '/admin/vault/imports/text', headers: { ...auth(ops), ...ndjson }, payload: { sku_id: skuId, supplier: 'acme', unit_cost_fen: 100, text: 'abc\n\t\n' } });
    expect(small.statusCode).toBe(422);
    expect(small.json()).toMatchObject({ status: 'rejected', accepted: 0, rejected: 1 });
    const unknown = await t.inject({ method: 'POST', url: '/admin/vault/imports/text', headers: { ...auth(ops), ...ndjson }, payload: { sku_id: 'sku_01J00000000000000000000000', supplier: 'acme', unit_cost_fen: 100, text: bigText('c') } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('NOT_FOUND');
  });

  it('over a real socket the progress arrives before the end; a caller leaving mid-import leaves it to finish', async () => {
    const skuId = await makeSku(t);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as { port: number };
    const body = JSON.stringify({ sku_id: skuId, supplier: 'acme', unit_cost_fen: 100, mode: 'accept_valid', text: Array.from({ length: 20_000 }, (_v, i) => `GONE-${i}`).join('\n') });
    // node:http rather than fetch: destroying the request closes the socket at once, like a closed browser tab.
    const req = request({ host: '127.0.0.1', port, path: '/admin/vault/imports/text', method: 'POST', headers: { ...auth(ops), ...ndjson, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
    const firstLine = new Promise<string>((resolve, reject) => {
      req.on('response', (res) => {
        expect(res.statusCode).toBe(200);
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('\n')) resolve(text.slice(0, text.indexOf('\n')));
        });
      });
      req.on('error', reject);
    });
    req.end(body);
    const progress = JSON.parse(await firstLine) as { type: string; import_id: string; rows: number };
    expect(progress).toMatchObject({ type: 'progress' });
    expect(progress.rows).toBeLessThan(20_000);
    req.destroy();
    await expect.poll(async () => (await t.inject({ method: 'GET', url: `/admin/vault/imports/${progress.import_id}`, headers: auth(ops) })).json().status, { timeout: 20_000 }).toBe('completed');
    expect(await codesOfSku(t, skuId)).toBe(20_000);
  });

  it('without the Accept header, a big import answers one JSON report as before', async () => {
    const skuId = await makeSku(t);
    const res = await t.inject({ method: 'POST', url: '/admin/vault/imports/text', headers: auth(ops), payload: { sku_id: skuId, supplier: 'acme', unit_cost_fen: 100, mode: 'accept_valid', text: bigText('d') } });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ accepted: 4999, rejected: 1 });
  });
});
