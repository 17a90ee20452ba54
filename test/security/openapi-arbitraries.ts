import fc from 'fast-check';

/**
 * fast-check arbitraries for hostile requests, derived from the OpenAPI
 * document: values that follow an operation's schema closely enough to reach
 * the service (so the deep paths are fuzzed too), with any leaf liable to be
 * replaced by something hostile, plus outright junk.
 */
export type JsonSchema = {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
};

const injections = [
  "' OR '1'='1", "'; DROP TABLE orders; --", '" OR ""="', '1; SELECT pg_sleep(5)--', "') UNION SELECT secret FROM codes--", '\\', "'", '"',
  '{"$gt":""}', '{"$where":"sleep(1000)"}', '$ne', '[$regex]', '__proto__', 'constructor', 'prototype', '__proto__[admin]', 'constructor.prototype.admin',
  '../../../../etc/passwd', '..%2f..%2f', '%00', '\u0000', 'a\u0000b', '\r\nSet-Cookie: x=1', '<script>alert(1)</script>', '${jndi:ldap://x/a}', '{{7*7}}',
  'NaN', 'Infinity', '-Infinity', '-1', '0', '1e309', '0x7fffffff', '9'.repeat(40), '-0', 'null', 'undefined', 'true', '[]', '{}',
  '😀'.repeat(50), '\u202e\u0645\u0631\u062d\u0628\u0627', '𠜎𠜱𠝹', 'İıſK', ' ', '', '\t\n',
  'http://169.254.169.254/latest/meta-data/', 'http://127.0.0.1:5432/', 'file:///etc/passwd', 'gopher://localhost:6379/_FLUSHALL',
  'ord_00000000000000000000000000', 'ord_ZZZZZZZZZZZZZZZZZZZZZZZZZZ', 'cus_0000000000000000000000000O',
];

export const hostileString = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...injections) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(5_000, 70_000).map((n) => 'A'.repeat(n)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...injections), fc.string({ maxLength: 8 })).map(([a, b]) => a + b) },
);

export const hostileNumber = fc.oneof(
  fc.constantFrom(-1, 0, -0, 0.5, -2_147_483_649, 2_147_483_648, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1e308, -1e308, 1e-300),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const deepNest = fc.integer({ min: 50, max: 400 }).map((d) => {
  let v: unknown = 1;
  for (let i = 0; i < d; i++) v = { a: v };
  return v;
});

export const junk: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 3, arbitrary: hostileNumber },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, [], {}, [null], [[[]]], { $gt: '' }, { $ne: null }) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: deepNest },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 200 }) },
);

export class SchemaArbitraries {
  constructor(
    private readonly components: Record<string, JsonSchema>,
    /** Real ids to offer where a schema asks for an id (those of objects the caller does not own make the best probes). */
    private readonly knownIds: readonly string[] = [],
  ) {}

  private resolve(s: JsonSchema): JsonSchema {
    if (!s.$ref) return s;
    const name = s.$ref.split('/').at(-1)!;
    return this.components[name] ?? {};
  }

  /** A value near `schema`; each leaf is hostile with probability ~1/5. */
  value(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
    const s = this.resolve(schema);
    const near = this.near(s, depth);
    return fc.oneof({ weight: 7, arbitrary: near }, { weight: 1, arbitrary: junk });
  }

  /** Ids that match an id pattern such as ^ord_[0-9A-HJKMNP-TV-Z]{26}$: known ones, or fresh ones that exist nowhere. */
  private matching(pattern: string): fc.Arbitrary<unknown> {
    let re: RegExp;
    try {
      re = new RegExp(pattern);
    } catch {
      return hostileString;
    }
    const known = this.knownIds.filter((id) => re.test(id));
    const prefix = /^\^(\w+)_\[0-9A-HJKMNP-TV-Z\]\{26\}\$$/.exec(pattern)?.[1];
    const fresh = prefix ? fc.string({ unit: fc.constantFrom(...'0123456789ABCDEFGHJKMNPQRSTVWXYZ'), minLength: 26, maxLength: 26 }).map((t) => `${prefix}_${t}`) : fc.stringMatching(re, { maxLength: 40 } as never);
    return known.length ? fc.oneof(fc.constantFrom(...known), fresh) : fresh;
  }

  private near(s: JsonSchema, depth: number): fc.Arbitrary<unknown> {
    if (depth > 5) return junk;
    if (s.const !== undefined) return fc.constant(s.const);
    if (s.enum) return fc.constantFrom(...s.enum);
    const branches = s.anyOf ?? s.oneOf;
    if (branches?.length) return fc.oneof(...branches.map((b) => this.value(b, depth + 1)));
    if (s.allOf?.length) return this.value(s.allOf[0]!, depth + 1);
    const type = Array.isArray(s.type) ? s.type[0] : s.type;
    switch (type) {
      case 'string':
        if (s.format === 'date-time') return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
        if (s.format === 'email') return fc.emailAddress();
        if (s.format === 'uri') return fc.webUrl();
        if (s.pattern) return this.matching(s.pattern);
        return fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 24, 24) });
      case 'integer':
        return fc.integer({ min: Math.max(s.minimum ?? -1_000_000, -1_000_000_000), max: Math.min(s.maximum ?? 1_000_000, 1_000_000_000) });
      case 'number':
        return fc.double({ min: s.minimum ?? -1e6, max: s.maximum ?? 1e6, noNaN: true });
      case 'boolean':
        return fc.boolean();
      case 'array':
        return fc.array(s.items ? this.value(s.items, depth + 1) : junk, { maxLength: Math.min(s.maxItems ?? 3, 3) });
      case 'object': {
        const props = Object.entries(s.properties ?? {});
        const required = new Set(s.required ?? []);
        const shape = Object.fromEntries(props.map(([k, v]) => [k, this.value(v, depth + 1)]));
        const base = fc.record(shape, { requiredKeys: props.map(([k]) => k).filter((k) => required.has(k)) });
        // Sometimes one extra field the schema does not name (mass assignment).
        return fc.tuple(base, fc.option(fc.tuple(fc.constantFrom('status', 'role', 'owner_id', 'price_fen', 'balance_fen', 'is_admin', 'amount_fen', 'created_by'), junk), { freq: 4 })).map(([o, extra]) =>
          extra ? { ...o, [extra[0]]: extra[1] } : o,
        );
      }
      default:
        return junk;
    }
  }
}

/** A raw JSON text: sometimes not JSON at all, sometimes with prototype-pollution keys spliced in. */
export function rawBodies(value: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 8, arbitrary: value.map((v) => JSON.stringify(v) ?? 'null') },
    {
      weight: 2,
      arbitrary: fc.tuple(value, fc.constantFrom('"__proto__":{"admin":true,"role":"owner"}', '"constructor":{"prototype":{"admin":true}}', '"__proto__":null')).map(([v, poison]) => {
        const text = JSON.stringify(v) ?? '{}';
        return text.startsWith('{') && text !== '{}' ? `{${poison},${text.slice(1)}` : `{${poison}}`;
      }),
    },
    { weight: 1, arbitrary: fc.constantFrom('{', '{"a":', 'nul', '[1,2', "{'a':1}", '\u0000', '{"a":1}{"b":2}', '1e99999', '"\\ud800"', '{"a":"\\u0000"}') },
  );
}
