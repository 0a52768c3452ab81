import { describe, expect, it } from 'vitest';
import { EventExamples } from '../../src/domain/event-examples.js';
import { EXAMPLE_LIMITS, exampleCandidates } from '../../src/domain/example-payloads.js';
import { PayloadSchemas } from '../../src/domain/payload-schemas.js';
import { BUILT_IN_EVENT_TYPE_LIST } from '../../src/publish/built-in-event-types.js';

const schemas = new PayloadSchemas();
let nextId = 0;
const eventType = (schema: unknown, version = 1) => ({ id: `etp_test_${nextId++}`, name: 'example.type', schema, version });

/** The example EventExamples gives, checked here again against the schema by a validator of its own. */
function exampleOf(schema: unknown): unknown {
  const source = eventType(schema);
  const example = new EventExamples(schemas).exampleFor(source);
  expect(example, JSON.stringify(schema)).toBeDefined();
  expect(() => new PayloadSchemas().assertPayload(source, example!.payload)).not.toThrow();
  return example!.payload;
}

describe('example payloads', () => {
  it("take the schema's examples[0] when it passes the schema", () => {
    const schema = {
      type: 'object',
      required: ['amount'],
      properties: { amount: { type: 'integer' } },
      examples: [{ amount: 4200, currency: 'EUR' }, { amount: 1 }],
    };
    expect(exampleOf(schema)).toEqual({ amount: 4200, currency: 'EUR' });
  });

  it('make one that passes the schema when examples[0] does not, or there are none', () => {
    const invoice = {
      type: 'object',
      required: ['id', 'amount', 'currency', 'lines', 'paidAt'],
      additionalProperties: false,
      properties: {
        id: { type: 'string', minLength: 12 },
        amount: { type: 'integer', minimum: 100, multipleOf: 50 },
        currency: { enum: ['EUR', 'USD'] },
        paidAt: { type: 'string', format: 'date-time' },
        customer: { $ref: '#/definitions/customer' },
        lines: { type: 'array', minItems: 2, maxItems: 5, items: { type: 'object', required: ['sku', 'quantity'], properties: { sku: { type: 'string' }, quantity: { type: 'integer', exclusiveMinimum: 0 } } } },
        discount: { type: ['number', 'null'], minimum: 0, exclusiveMaximum: 1 },
        paid: { const: true },
      },
      definitions: { customer: { type: 'object', required: ['email'], properties: { email: { type: 'string', format: 'email' } } } },
      examples: [{ id: 'too short' }],
    };
    const made = exampleOf(invoice) as Record<string, unknown>;
    expect(Object.keys(made).sort()).toEqual(['amount', 'currency', 'customer', 'discount', 'id', 'lines', 'paid', 'paidAt']);
    expect(made.lines).toHaveLength(2);

    const draft2020 = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      required: ['point', 'tags'],
      properties: {
        point: { type: 'array', prefixItems: [{ type: 'number' }, { type: 'number', maximum: -5 }], items: false },
        tags: { type: 'array', items: { $ref: '#/$defs/tag' }, uniqueItems: true },
        kind: { allOf: [{ type: 'string' }, { minLength: 3 }] },
        either: { oneOf: [{ type: 'integer', minimum: 10 }, { type: 'string' }] },
      },
      $defs: { tag: { type: 'string', maxLength: 3 } },
    };
    expect(exampleOf(draft2020)).toMatchObject({ point: [1, -5], tags: ['str'], kind: 'string', either: 10 });
    // draft-07 tuples, and `$ref`s to `$ref`s.
    expect(exampleOf({ type: 'array', items: [{ type: 'string' }, { type: 'boolean' }], additionalItems: false })).toEqual(['string', true]);
    const chained = { $ref: '#/definitions/a', definitions: { a: { $ref: '#/definitions/b' }, b: { type: 'object', required: ['n'], properties: { n: { type: 'number', exclusiveMinimum: 2, maximum: 3 } } } } };
    expect(exampleOf(chained)).toEqual({ n: 2.5 });
    expect(exampleOf({ type: 'object' })).toEqual({});
    expect(exampleOf({})).toEqual({});
    expect(exampleOf(true)).toEqual({});
  });

  it('fall back to the required properties when every property together cannot pass', () => {
    const schema = { type: 'object', required: ['a'], properties: { a: { type: 'integer' }, b: { type: 'integer' } }, maxProperties: 1 };
    expect(exampleOf(schema)).toEqual({ a: 1 });
  });

  it('give none for a schema whose patterns a made string does not meet, and for one that admits nothing', () => {
    const examples = new EventExamples(schemas);
    expect(examples.exampleFor(eventType({ type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^inv_[0-9]{6}$' } } }))).toBeUndefined();
    expect(examples.exampleFor(eventType(false))).toBeUndefined();
    expect(examples.exampleFor(eventType({ type: 'integer', minimum: 5, maximum: 4 }))).toBeUndefined();
    // With examples, a schema with patterns has its example.
    const withExample = { type: 'object', properties: { id: { type: 'string', pattern: '^inv_[0-9]{6}$' } }, examples: [{ id: 'inv_000042' }] };
    expect(examples.exampleFor(eventType(withExample))).toEqual({ payload: { id: 'inv_000042' } });
  });

  it('stay within their limits whatever the schema asks for', () => {
    const huge = [
      { type: 'array', minItems: 100_000_000, items: { type: 'integer' } },
      { type: 'string', minLength: 100_000_000 },
      { type: 'object', minProperties: 100_000_000 },
      { type: 'array', items: { type: 'array', items: { type: 'array', items: { type: 'array', minItems: 16, items: { type: 'array', minItems: 16, items: { type: 'string', minLength: 1000 } } } } } },
      { $ref: '#', required: ['self'], properties: { self: { $ref: '#' } } },
      { $ref: 'https://example.com/elsewhere.json' },
    ];
    for (const schema of huge) {
      const candidates = exampleCandidates(schema);
      expect(JSON.stringify(candidates).length, JSON.stringify(schema)).toBeLessThanOrEqual(EXAMPLE_LIMITS.characters + 50_000);
    }
    expect(exampleCandidates(huge[0])).toEqual([]);
    expect(exampleCandidates(huge[4])).toEqual([]);
    expect(exampleCandidates(huge[5])).toEqual([]);
  });

  it('are the same for the same schema, and follow a new version of it', () => {
    const examples = new EventExamples(schemas);
    const source = eventType({ type: 'object', required: ['n'], properties: { n: { type: 'integer', minimum: 3 } } });
    expect(examples.exampleFor(source)).toEqual({ payload: { n: 3 } });
    expect(examples.exampleFor({ ...source })).toEqual({ payload: { n: 3 } });
    const changed = { ...source, version: 2, schema: { type: 'object', required: ['n'], properties: { n: { type: 'integer', minimum: 7 } } } };
    expect(examples.exampleFor(changed)).toEqual({ payload: { n: 7 } });
    // No schema: an empty object.
    expect(examples.exampleFor(eventType(null))).toEqual({ payload: {} });
  });

  it('of the built-in event types pass their schemas', () => {
    for (const builtIn of BUILT_IN_EVENT_TYPE_LIST) {
      expect(schemas.checkedSchema(builtIn.schema)).toEqual(builtIn.schema);
      expect(exampleOf(builtIn.schema)).toEqual((builtIn.schema as { examples: unknown[] }).examples[0]);
    }
  });
});
