import type { TestApp } from '../helpers/boot.js';

let skuN = 0;

/** A product with one SKU; returns the SKU id. */
export async function makeSku(t: TestApp, kind: 'code' | 'topup' | 'cdk' = 'code'): Promise<string> {
  const n = ++skuN;
  const product = await t.services.catalog.createProduct({
    name: `vault test ${n}`,
    brand: 'kaquan',
    category: 'test',
    kind,
    skus: [{ name: `sku ${n}`, faceValueFen: 10_000, costFen: 9_000, retailPriceFen: 9_800 }],
  });
  return product.skus[0]!.id;
}

/** A multipart/form-data body with one file field, as a browser would send it. */
export async function multipart(filename: string, content: string | Buffer, type: string, field = 'file'): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const form = new FormData();
  form.append(field, new Blob([typeof content === 'string' ? content : new Uint8Array(content)], { type }), filename);
  const req = new Request('http://x', { method: 'POST', body: form });
  return { payload: Buffer.from(await req.arrayBuffer()), headers: { 'content-type': req.headers.get('content-type')! } };
}

export async function countOf(t: TestApp, sql: string, values: unknown[]): Promise<number> {
  const { rows } = await t.platform.database.executeSql<{ n: number }>(sql, values);
  return Number(rows[0]!.n);
}

export const codesOfSku = (t: TestApp, skuId: string) => countOf(t, 'select count(*)::int as n from codes where sku_id = $1', [skuId]);
export const batchesOfSku = (t: TestApp, skuId: string) => countOf(t, 'select count(*)::int as n from code_batches where sku_id = $1', [skuId]);
export const importsOfSku = (t: TestApp, skuId: string) => countOf(t, 'select count(*)::int as n from vault_imports where sku_id = $1', [skuId]);

export const auth = (token: string) => ({ authorization: `Bearer ${token}` });
