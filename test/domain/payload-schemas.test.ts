import { describe, expect, it } from 'vitest';
import { CompileBudget, PayloadSchemas, SCHEMA_LIMITS } from '../../src/domain/payload-schemas.js';
import { HooklaneError } from '../../src/errors.js';

// PayloadSchemas on its own: each schema compiled in isolation, a bounded cache keyed so that a
// changed schema is never served stale, and the limits that keep a tenant's schema cheap.

const UUID = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

function refusal(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof HooklaneError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

function passes(schemas: PayloadSchemas, eventType: { id: string; name: string; schema: unknown }, payload: unknown): boolean {
  try {
    schemas.assertPayload(eventType, payload);
    return true;
  } catch (error) {
    if (error instanceof HooklaneError && error.code === 'BAD_USER_INPUT') return false;
    throw error;
  }
}

describe('PayloadSchemas', () => {
  describe("a tenant's compile budget", () => {
    it('refuses the next compile with QUOTA_EXCEEDED and retryAfter once spent, for that tenant only, until it refills', () => {
      let now = 0;
      const budget = new CompileBudget({ msPerSecond: 100, burstMs: 200 }, () => now);
      budget.charge('noisy', 150);
      expect(() => budget.assertAvailable('noisy')).not.toThrow();
      budget.charge('noisy', 120);
      const refused = refusal(() => budget.assertAvailable('noisy'));
      expect(refused.code).toBe('QUOTA_EXCEEDED');
      expect(refused.message).toContain('100 ms of compiling per second');
      try {
        budget.assertAvailable('noisy');
      } catch (error) {
        // 70 ms in debt at 100 ms/s: a second from now it has 30 ms to spend.
        expect((error as HooklaneError).extensions.retryAfter).toBe(1);
      }
      expect(() => budget.assertAvailable('quiet')).not.toThrow();
      now += 1_000;
      expect(() => budget.assertAvailable('noisy')).not.toThrow();
      // It refills up to the burst, no further.
      now += 60_000;
      budget.charge('noisy', 201);
      expect(refusal(() => budget.assertAvailable('noisy')).code).toBe('QUOTA_EXCEEDED');
    });

    it('charges compiles to the tenant that asks, creating or publishing, and never a validator already compiled', () => {
      // A frozen clock: the budget never refills, and any compile spends more than it holds.
      const schemas = new PayloadSchemas({ compileBudget: new CompileBudget({ msPerSecond: 1, burstMs: 0.000_001 }, () => 0) });
      const eventType = { id: 'et_cached', name: 'cached', schema: { type: 'integer' } };
      expect(() => schemas.assertPayload(eventType, 1, 'payload', 'noisy')).not.toThrow();
      expect(refusal(() => schemas.checkedSchema({ type: 'string' }, 'noisy')).code).toBe('QUOTA_EXCEEDED');
      expect(refusal(() => schemas.assertPayload({ id: 'et_new', name: 'new', schema: { type: 'string' } }, 'x', 'payload', 'noisy')).code).toBe('QUOTA_EXCEEDED');
      // Its compiled validators still check its payloads, and other tenants still compile.
      expect(() => schemas.assertPayload(eventType, 2, 'payload', 'noisy')).not.toThrow();
      expect(refusal(() => schemas.assertPayload(eventType, 'two', 'payload', 'noisy')).code).toBe('BAD_USER_INPUT');
      expect(schemas.checkedSchema({ type: 'string' }, 'quiet')).toEqual({ type: 'string' });
    });
  });

  it('keeps at most maxCachedValidators compiled schemas, and still checks every event type', () => {
    const schemas = new PayloadSchemas({ maxCachedValidators: 3 });
    const eventTypes = Array.from({ length: 8 }, (_, i) => ({ id: `et_${i}`, name: `t${i}`, schema: { type: 'integer', minimum: i } }));
    for (let round = 0; round < 2; round++) {
      for (const [i, eventType] of eventTypes.entries()) {
        expect(passes(schemas, eventType, i)).toBe(true);
        expect(passes(schemas, eventType, i - 1)).toBe(false);
        expect(schemas.cachedValidators).toBeLessThanOrEqual(3);
      }
    }
    expect(schemas.cachedValidators).toBe(3);
  });

  it('compiles again when the schema of a cached event type changes', () => {
    const schemas = new PayloadSchemas();
    expect(passes(schemas, { id: 'et_1', name: 't', schema: { type: 'string' } }, 'text')).toBe(true);
    expect(passes(schemas, { id: 'et_1', name: 't', schema: { type: 'number' } }, 'text')).toBe(false);
    expect(passes(schemas, { id: 'et_1', name: 't', schema: { type: 'number' } }, 1)).toBe(true);
  });

  it('compiles each schema on its own: the same $id twice means two schemas', () => {
    const schemas = new PayloadSchemas();
    const id = 'https://schemas.example.com/thing.json';
    const asString = { id: 'et_a', name: 'a', schema: { $id: id, type: 'string' } };
    const asNumber = { id: 'et_b', name: 'b', schema: { $id: id, type: 'number' } };
    expect(schemas.checkedSchema(asString.schema)).toEqual(asString.schema);
    expect(schemas.checkedSchema(asNumber.schema)).toEqual(asNumber.schema);
    expect(passes(schemas, asString, 'x')).toBe(true);
    expect(passes(schemas, asNumber, 1)).toBe(true);
    expect(passes(schemas, asNumber, 'x')).toBe(false);
  });

  it('returns a plain copy of the schema to store', () => {
    const input = Object.assign(Object.create(null) as object, { type: 'object', properties: { a: { type: 'string' } } });
    const checked = new PayloadSchemas().checkedSchema(input);
    expect(Object.getPrototypeOf(checked)).toBe(Object.prototype);
    expect(checked).toEqual({ type: 'object', properties: { a: { type: 'string' } } });
  });

  describe('patterns', () => {
    it('runs pattern, patternProperties and propertyNames on RE2, refusing what RE2 cannot run', () => {
      const schemas = new PayloadSchemas();
      for (const [schema, where] of [
        [{ type: 'string', pattern: '(a)\\1' }, '/pattern'],
        [{ items: [{ patternProperties: { '(?!x)': true } }] }, '/items/0/patternProperties/(?!x)'],
        [{ $defs: { name: { propertyNames: { pattern: '\\k<n>' } } } }, '/$defs/name/propertyNames/pattern'],
      ] as const) {
        const { code, message } = refusal(() => schemas.checkedSchema(schema));
        expect(code).toBe('BAD_USER_INPUT');
        expect(message).toContain(where);
      }
    });

    it('matches with RE2: every pattern kind, \\u escapes, surrogate pairs and escaped backslashes', () => {
      const schemas = new PayloadSchemas();
      const schema = {
        type: 'object',
        properties: { s: { type: 'string', pattern: '^(a+)+$' }, e: { type: 'string', pattern: '^\\uD83D\\uDE00\\u{1F600}[\\u0041-\\u005A]\\\\u0041$' } },
        patternProperties: { '^x-\\d+$': { type: 'integer' } },
        propertyNames: { pattern: '^[a-z0-9-]+$' },
      };
      const eventType = { id: 'et_p', name: 'p', schema: schemas.checkedSchema(schema) };
      expect(passes(schemas, eventType, { s: 'a'.repeat(100) })).toBe(true);
      expect(passes(schemas, eventType, { s: `${'a'.repeat(100)}!` })).toBe(false);
      expect(passes(schemas, eventType, { e: '😀😀Q\\u0041' })).toBe(true);
      expect(passes(schemas, eventType, { e: '😀😀QA' })).toBe(false);
      expect(passes(schemas, eventType, { 'x-1': 1 })).toBe(true);
      expect(passes(schemas, eventType, { 'x-1': 'one' })).toBe(false);
      expect(passes(schemas, eventType, { X: 1 })).toBe(false);
    });

    it('bounds the RE2 instructions a schema runs, counting a pattern each time a $ref reaches it', () => {
      const schemas = new PayloadSchemas();
      const withIds = (count: number) => ({
        definitions: { id: { type: 'string', pattern: UUID } },
        properties: Object.fromEntries(Array.from({ length: count }, (_, i) => [`id${i}`, { $ref: '#/definitions/id' }])),
      });
      expect(() => schemas.checkedSchema(withIds(10))).not.toThrow();
      // The UUID pattern compiles to some 40 RE2 instructions.
      const { code, message } = refusal(() => schemas.checkedSchema(withIds(Math.ceil(SCHEMA_LIMITS.patternInstructions / 20))));
      expect(code).toBe('BAD_USER_INPUT');
      expect(message).toContain(String(SCHEMA_LIMITS.patternInstructions));
    });

    it('bounds the length of a pattern', () => {
      const { message } = refusal(() => new PayloadSchemas().checkedSchema({ pattern: 'a'.repeat(SCHEMA_LIMITS.patternLength + 1) }));
      expect(message).toContain('/pattern');
      expect(message).toContain(String(SCHEMA_LIMITS.patternLength));
    });
  });

  describe('uniqueItems', () => {
    it('compares items as JSON values', () => {
      const schemas = new PayloadSchemas();
      const eventType = { id: 'et_u', name: 'u', schema: { uniqueItems: true } };
      expect(passes(schemas, eventType, [1, '1', true, null, [1], { a: 1 }, { a: '1' }])).toBe(true);
      expect(passes(schemas, eventType, [{ a: 1, b: 2 }, { b: 2, a: 1 }])).toBe(false);
      expect(passes(schemas, eventType, [[1, { x: [] }], [1, { x: [] }]])).toBe(false);
      expect(passes(schemas, eventType, [1, 1.0])).toBe(false);
      expect(passes(schemas, { id: 'et_v', name: 'v', schema: { uniqueItems: false } }, [1, 1])).toBe(true);
    });
  });

  describe('references', () => {
    it('refuses $dynamicRef and an embedded $id, naming where they are', () => {
      const schemas = new PayloadSchemas();
      const dynamic = refusal(() => schemas.checkedSchema({ $schema: 'https://json-schema.org/draft/2020-12/schema', items: { $dynamicRef: '#node' } }));
      expect(dynamic.message).toContain('/items');
      const embedded = refusal(() => schemas.checkedSchema({ items: { $id: 'other.json' } }));
      expect(embedded.message).toContain('/items');
    });

    it('refuses a $ref that leaves the schema, even to a well-known meta-schema', () => {
      const schemas = new PayloadSchemas();
      for (const ref of ['http://json-schema.org/draft-07/schema#', 'other.json#/definitions/a', 'https://example.com/x']) {
        expect(refusal(() => schemas.checkedSchema({ $ref: ref })).code).toBe('BAD_USER_INPUT');
      }
    });

    it('accepts a $ref to its own root $id', () => {
      const schemas = new PayloadSchemas();
      const schema = { $id: 'https://example.com/root.json', definitions: { n: { type: 'integer' } }, items: { $ref: 'https://example.com/root.json#/definitions/n' } };
      const eventType = { id: 'et_r', name: 'r', schema: schemas.checkedSchema(schema) };
      expect(passes(schemas, eventType, [1, 2])).toBe(true);
      expect(passes(schemas, eventType, [1, 'two'])).toBe(false);
    });

    it('refuses $schema other than draft-07 and 2020-12', () => {
      const schemas = new PayloadSchemas();
      expect(refusal(() => schemas.checkedSchema({ $schema: 'http://json-schema.org/draft-04/schema#' })).code).toBe('BAD_USER_INPUT');
      expect(refusal(() => schemas.checkedSchema({ $schema: 'http://json-schema.org/draft-07/schema#/definitions/schemaArray' })).code).toBe('BAD_USER_INPUT');
    });

    it('bounds how many subschemas a schema expands to', () => {
      const schemas = new PayloadSchemas();
      const wide = { anyOf: Array.from({ length: SCHEMA_LIMITS.subschemas }, (_, i) => ({ const: i })) };
      expect(refusal(() => schemas.checkedSchema(wide)).message).toContain(String(SCHEMA_LIMITS.subschemas));
    });

    it('bounds how deep a schema nests', () => {
      let deep: unknown = { type: 'string' };
      for (let i = 0; i < SCHEMA_LIMITS.depth; i++) deep = { not: deep };
      expect(refusal(() => new PayloadSchemas().checkedSchema(deep)).message).toContain(String(SCHEMA_LIMITS.depth));
    });
  });
});
