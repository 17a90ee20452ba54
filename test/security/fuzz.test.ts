import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InjectOptions } from 'fastify';
import { bearer } from '../helpers/boot.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { assertSafeResponse, buildWorld, businessSnapshot, type World } from './world.js';
import { NUL_IN_BODY, NUL_IN_URL } from '../../src/http/nul-guard.js';
import { hostileString, junk, rawBodies, SchemaArbitraries, type JsonSchema } from './openapi-arbitraries.js';

/**
 * Property-based fuzzing of every operation in the OpenAPI document, as the
 * principal the route is for (owner, agent key, mini-program customer), as
 * nobody, and as a principal of the wrong kind. Every response: no 5xx, no
 * internals, no seeded secret, the one error shape; a rejected write changes
 * no business table. FUZZ_RUNS raises the runs per operation.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 12);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;

interface Operation {
  method: string;
  path: string;
  pathParams: string[];
  query: { name: string; schema: JsonSchema; required: boolean }[];
  body?: JsonSchema;
}
type Principal = 'own' | 'anon' | 'cross';

let w: World;
let ops: Operation[];
const arbs = new Map<string, SchemaArbitraries>();
const publicRoutes = new Set<string>();
// Ending the fuzzer's own session or rotating its own credentials would only blind the rest of the run; they are covered in replay.test.ts.
const skipped = new Set(['POST /admin/auth/logout', 'POST /mp/v1/logout', 'POST /admin/auth/password']);

beforeAll(async () => {
  w = await buildWorld();
  const doc = w.t.app.swagger() as { paths: Record<string, Record<string, { parameters?: { in: string; name: string; schema: JsonSchema; required?: boolean }[]; requestBody?: { content?: Record<string, { schema: JsonSchema }> } }>>; components?: { schemas?: Record<string, JsonSchema> } };
  for (const kind of ['admin', 'open', 'mp', 'public']) arbs.set(kind, new SchemaArbitraries(doc.components?.schemas ?? {}, foreignIds(kind)));
  ops = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const params = op.parameters ?? [];
      ops.push({
        method: method.toUpperCase(),
        path,
        pathParams: [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!),
        query: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema, required: Boolean(p.required) })),
        body: op.requestBody?.content?.['application/json']?.schema,
      });
    }
  }
  for (const g of (w.t.app as unknown as { routeGuards: { method: string; url: string; permission?: string; signed?: boolean }[] }).routeGuards) {
    if (!g.permission && !g.signed && !g.url.startsWith('/mp/')) publicRoutes.add(`${g.method} ${g.url}`);
  }
  publicRoutes.add('POST /mp/v1/login');
  expect(ops.length).toBeGreaterThan(250);
});
afterAll(() => w?.close());

const preAuthRefusals = new Set(['body is not valid JSON', 'a path parameter is too long', 'malformed URL', NUL_IN_URL, NUL_IN_BODY]);
// An empty path parameter ("/orders/") names another, non-existent route.
const unrouted = (message: unknown) => typeof message === 'string' && message.startsWith('no route for ');
const kindOf = (path: string) => (path.startsWith('/admin/') ? 'admin' : path.startsWith('/open/') ? 'open' : path.startsWith('/mp/') ? 'mp' : 'public');

/** Ids of real objects the principal does NOT own, so any secret they let through is a leak. */
function foreignIds(kind: string): string[] {
  const { agentA, agentB, custA, custB, skuId } = w;
  if (kind === 'open') return [agentB.orderId, custB.orderId, agentB.id, custB.id, agentB.key.id, skuId];
  if (kind === 'mp') return [custB.orderId, agentA.orderId, custB.id, skuId];
  return [agentA.orderId, custA.orderId, agentA.id, custA.id, skuId];
}

function safeDecode(url: string): string {
  try {
    return decodeURIComponent(url);
  } catch {
    return url;
  }
}

function encode(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? '';
  try {
    return encodeURIComponent(s);
  } catch {
    return 'lone%20surrogate';
  }
}

function requestArbitrary(op: Operation) {
  const kind = kindOf(op.path);
  const schemaArbs = arbs.get(kind)!;
  const param = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...foreignIds(kind)) }, { weight: 3, arbitrary: hostileString }, { weight: 1, arbitrary: junk });
  const params = fc.tuple(...op.pathParams.map(() => param));
  const query = fc.tuple(
    fc.tuple(...op.query.map((q) => (q.required ? schemaArbs.value(q.schema).map((v) => [v]) : fc.option(schemaArbs.value(q.schema).map((v) => [v]), { freq: 2 })))),
    fc.option(fc.tuple(fc.constantFrom('__proto__', 'constructor[prototype][admin]', 'limit', 'cursor', 'owner_id', 'a[$ne]'), junk), { freq: 3 }),
  );
  const body = op.body
    ? fc.option(rawBodies(schemaArbs.value(op.body)), { freq: 12 })
    : fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: rawBodies(junk) });
  const principal = fc.constantFrom<Principal>('own', 'own', 'own', 'own', 'anon', 'cross');
  return fc.record({ params, query, body, principal, contentType: fc.oneof({ weight: 8, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'application/merge-patch+json') }) });
}

type Req = ReturnType<typeof requestArbitrary> extends fc.Arbitrary<infer R> ? R : never;

function toInject(op: Operation, r: Req): InjectOptions {
  let path = op.path;
  op.pathParams.forEach((name, i) => (path = path.replace(`{${name}}`, encode(r.params[i]))));
  const parts: string[] = [];
  r.query[0].forEach((v, i) => v && parts.push(`${encodeURIComponent(op.query[i]!.name)}=${encode(v[0])}`));
  if (r.query[1]) parts.push(`${encodeURIComponent(r.query[1][0])}=${encode(r.query[1][1])}`);
  const url = parts.length ? `${path}?${parts.join('&')}` : path;
  const text = r.body ?? '';
  const headers: Record<string, string> = { 'idempotency-key': `fuzz-${Math.random().toString(36).slice(2)}`, 'x-device-id': 'fuzz-device' };
  if (text) headers['content-type'] = r.contentType;
  const kind = kindOf(op.path);
  const asOwner = () => Object.assign(headers, bearer(w.owner.token));
  const asAgent = () => Object.assign(headers, signedHeaders(w.agentA.key.id, w.agentA.key.secret, op.method, url, text, w.t.platform.clock.now()));
  const asCustomer = () => Object.assign(headers, bearer(w.custA.token));
  if (r.principal === 'own') {
    if (kind === 'admin') asOwner();
    else if (kind === 'open') asAgent();
    else if (kind === 'mp') asCustomer();
  } else if (r.principal === 'cross') {
    if (kind === 'admin') asCustomer();
    else if (kind === 'mp') asOwner();
    else asOwner();
  }
  return { method: op.method as InjectOptions['method'], url, payload: text || undefined, headers, remoteAddress: '203.0.113.77' };
}

async function fuzz(kind: string) {
  const mine = ops.filter((o) => kindOf(o.path) === kind && !skipped.has(`${o.method} ${o.path}`));
  expect(mine.length).toBeGreaterThan(0);
  let requests = 0;
  const statuses = new Map<number, number>();
  for (const op of mine) {
    const routeKey = `${op.method} ${op.path.replace(/\{(\w+)\}/g, ':$1')}`;
    const isPublic = publicRoutes.has(routeKey);
    await fc.assert(
      fc.asyncProperty(requestArbitrary(op), async (r) => {
        const req = toInject(op, r);
        const mutating = op.method !== 'GET';
        const before = mutating ? await businessSnapshot(w.t) : '';
        const res = await w.t.inject(req);
        requests++;
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        const what = `${op.method} ${String(req.url).slice(0, 300)} as ${r.principal} body=${String(req.payload ?? '').slice(0, 200)}`;
        assertSafeResponse(res, w.secrets, what, `${safeDecode(String(req.url))}\n${String(req.payload ?? '')}`);
        // Nobody, or a principal of the wrong kind, never gets past a protected route.
        // (A body that is not JSON or a path that cannot be routed is refused before authentication; that says nothing about the route.)
        if (r.principal !== 'own' && !isPublic && !preAuthRefusals.has(res.json().error?.message) && !unrouted(res.json().error?.message)) expect([401, 403, 413, 415], what).toContain(res.statusCode);
        if (mutating && res.statusCode >= 400) expect(await businessSnapshot(w.t), `${what}: a rejected write changed business rows`).toBe(before);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  }
  console.log(`fuzz ${kind}: ${mine.length} operations, ${requests} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
}

describe('fuzzing every OpenAPI operation with hostile input', () => {
  // Admin last: as the owner it may (rightly) freeze the agents and customers the other principals fuzz with.
  it('public routes (anonymous)', () => fuzz('public'), 600_000);
  it('mini-program routes (customer session)', () => fuzz('mp'), 600_000);
  it('open API routes (signed agent key)', () => fuzz('open'), 600_000);
  it('admin routes (owner session)', () => fuzz('admin'), 600_000);
});

describe('values PostgreSQL cannot store', () => {
  // Found by this fuzzer on real PostgreSQL: a NUL in a path parameter reached a query and failed there (500).
  it('a NUL in a path, a query string or a JSON string is refused with 400 before any query', async () => {
    const { t, owner, agentA, custA } = w;
    const before = await businessSnapshot(t);
    const cases = [
      t.inject({ method: 'GET', url: '/admin/risk/devices/a%00b', headers: bearer(owner.token) }),
      t.inject({ method: 'GET', url: '/admin/orders?limit=5&status=paid%00', headers: bearer(owner.token) }),
      t.inject({ method: 'GET', url: '/mp/v1/orders/ord_%00', headers: bearer(custA.token) }),
      t.inject({ method: 'POST', url: '/admin/products', headers: { ...bearer(owner.token), 'content-type': 'application/json' }, payload: '{"name":"a\\u0000b","brand":"b","category":"c","kind":"code","skus":[]}' }),
      t.inject({ method: 'POST', url: '/mp/v1/after-sales', headers: { ...bearer(custA.token), 'content-type': 'application/json', 'idempotency-key': 'nul-1' }, payload: '{"order_id":"x","code_ids":[],"description":"\\u0000"}' }),
      signedCallRaw(agentA, 'POST', '/open/v1/customers/resolve', '{"provider":"telegram","external_id":"1\\u0000"}'),
    ];
    for (const res of await Promise.all(cases)) {
      assertSafeResponse(res, w.secrets, res.raw.req.url ?? '');
      expect([res.statusCode, res.json().error.code], res.body).toEqual([400, 'VALIDATION_FAILED']);
    }
    // A code file with NUL bytes in its fields: a clear per-row verdict, never a 500.
    const csv = 'card_number,secret,expires_at\nC\u0000001,SECRET-WITH-NUL-\u0000-1,2099-01-01\nC002,SECRET-PLAIN-0002,2099-01-01\n';
    const form = new FormData();
    form.append('file', new Blob([csv], { type: 'text/csv' }), 'codes.csv');
    const req = new Request('http://x', { method: 'POST', body: form });
    const upload = await t.inject({ method: 'POST', url: `/admin/vault/imports?sku_id=${w.skuId}&supplier=nul&unit_cost_fen=1&mode=all_or_nothing`, headers: { ...bearer(owner.token), 'content-type': req.headers.get('content-type')! }, payload: Buffer.from(await req.arrayBuffer()) });
    assertSafeResponse(upload, w.secrets, 'multipart import with NUL');
    expect(upload.statusCode, upload.body).toBe(422);
    // An escaped backslash followed by "u0000" is ordinary text, not a NUL.
    const literal = await signedCallRaw(agentA, 'POST', '/open/v1/customers/resolve', '{"provider":"telegram","external_id":"x\\\\u0000"}');
    expect(literal.statusCode, literal.body).toBe(200);
    expect(await businessSnapshot(t)).toBe(before);
  });
});

function signedCallRaw(agent: { key: { id: string; secret: string } }, method: string, url: string, raw: string) {
  return w.t.inject({ method: method as 'POST', url, payload: raw, headers: { 'content-type': 'application/json', ...signedHeaders(agent.key.id, agent.key.secret, method, url, raw, w.t.platform.clock.now()) } });
}
