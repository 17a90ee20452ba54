import { Type, type Static } from '@sinclair/typebox';

/**
 * Cursor pagination: lists are ordered by id descending (ids are ULIDs, so
 * newest first) and the cursor is the last id of the page. Stable under
 * inserts, unlike offsets.
 */
export const PageQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'page size (1-100)' }),
    cursor: Type.Optional(Type.String({ maxLength: 64, pattern: '^[a-z]+_[0-9A-HJKMNP-TV-Z]{26}$', description: 'next_cursor of the previous page' })),
  },
  { additionalProperties: false },
);
export type PageQuery = Static<typeof PageQuery>;

export function Page<T extends ReturnType<typeof Type.Object>>(item: T) {
  return Type.Object({
    data: Type.Array(item),
    has_more: Type.Boolean(),
    next_cursor: Type.Union([Type.String(), Type.Null()]),
  });
}

export interface PageResult<T> {
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}

/** Given rows fetched with limit + 1, builds the page. */
export function toPage<T extends { id: string }>(rows: T[], limit: number): PageResult<T> {
  const hasMore = rows.length > limit;
  const data = hasMore ? rows.slice(0, limit) : rows;
  return { data, has_more: hasMore, next_cursor: hasMore ? (data.at(-1)?.id ?? null) : null };
}
