import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { Page, PageQuery, toPage } from './pagination.js';

const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `ord_${String(n - i).padStart(3, '0')}`, n: n - i }));

describe('toPage', () => {
  it('empty result: no data, no more, no cursor', () => {
    expect(toPage([], 20)).toEqual({ data: [], has_more: false, next_cursor: null });
  });

  it('fewer rows than the limit: everything, no more', () => {
    const r = rows(3);
    expect(toPage(r, 20)).toEqual({ data: r, has_more: false, next_cursor: null });
  });

  it('exactly limit rows: everything, no more', () => {
    const r = rows(5);
    const page = toPage(r, 5);
    expect(page.data).toHaveLength(5);
    expect(page.has_more).toBe(false);
    expect(page.next_cursor).toBeNull();
  });

  it('limit + 1 rows: drops the extra row, has more, cursor is the last id shown', () => {
    const r = rows(6);
    const page = toPage(r, 5);
    expect(page.data).toEqual(r.slice(0, 5));
    expect(page.has_more).toBe(true);
    expect(page.next_cursor).toBe(r[4]!.id);
    expect(page.data).not.toContainEqual(r[5]);
  });

  it('limit 1', () => {
    expect(toPage(rows(2), 1)).toEqual({ data: [rows(2)[0]], has_more: true, next_cursor: rows(2)[0]!.id });
    expect(toPage(rows(1), 1)).toEqual({ data: rows(1), has_more: false, next_cursor: null });
  });

  it('does not modify the input', () => {
    const r = rows(4);
    const copy = structuredClone(r);
    toPage(r, 3);
    expect(r).toEqual(copy);
  });

  it('keeps extra fields of the rows', () => {
    const page = toPage([{ id: 'a', name: 'x', nested: { y: 1 } }], 10);
    expect(page.data[0]).toEqual({ id: 'a', name: 'x', nested: { y: 1 } });
  });

  it('property: walking pages with the cursor visits every row once, in order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 15 }), (n, limit) => {
        const all = rows(n);
        const seen: string[] = [];
        let cursor: string | null = null;
        for (let guard = 0; guard < 100; guard++) {
          // what the SQL would do: id < cursor, order by id desc, limit + 1
          const start: number = cursor === null ? 0 : all.findIndex((r) => r.id === cursor) + 1;
          const page = toPage(all.slice(start, start + limit + 1), limit);
          expect(page.data.length).toBeLessThanOrEqual(limit);
          seen.push(...page.data.map((r) => r.id));
          expect(page.has_more).toBe(page.next_cursor !== null);
          if (!page.has_more) break;
          expect(page.data).toHaveLength(limit);
          cursor = page.next_cursor;
        }
        expect(seen).toEqual(all.map((r) => r.id));
      }),
    );
  });
});

describe('PageQuery schema', () => {
  const ulid = '01ARZ3NDEKTSV4RRFFQ69G5FAV';

  it('accepts a limit and an optional cursor', () => {
    expect(Value.Check(PageQuery, { limit: 20 })).toBe(true);
    expect(Value.Check(PageQuery, { limit: 1, cursor: `ord_${ulid}` })).toBe(true);
    expect(Value.Check(PageQuery, { limit: 100 })).toBe(true);
  });

  it('defaults the limit to 20', () => {
    expect(Value.Default(PageQuery, {})).toEqual({ limit: 20 });
  });

  it.each([
    [{ limit: 0 }],
    [{ limit: 101 }],
    [{ limit: 2.5 }],
    [{ limit: '20' }],
    [{ limit: 20, cursor: ulid }], // no prefix
    [{ limit: 20, cursor: `ORD_${ulid}` }], // upper-case prefix
    [{ limit: 20, cursor: `ord_${ulid.toLowerCase()}` }], // lower-case ULID
    [{ limit: 20, cursor: `ord_${ulid.slice(0, 25)}` }], // too short
    [{ limit: 20, cursor: `ord_${ulid.slice(0, 25)}U` }], // U is not Crockford base32
    [{ limit: 20, cursor: `ord_${ulid}x` }], // too long
    [{ limit: 20, extra: 1 }],
  ])('refuses %j', (q) => {
    expect(Value.Check(PageQuery, q)).toBe(false);
  });
});

describe('Page schema', () => {
  const Item = Type.Object({ id: Type.String() });
  const P = Page(Item);

  it('describes data, has_more and next_cursor', () => {
    expect(Value.Check(P, toPage([{ id: 'a' }, { id: 'b' }], 1))).toBe(true);
    expect(Value.Check(P, toPage([], 1))).toBe(true);
    expect(Value.Check(P, { data: [{ id: 1 }], has_more: false, next_cursor: null })).toBe(false);
    expect(Value.Check(P, { data: [], has_more: false })).toBe(false);
  });
});
