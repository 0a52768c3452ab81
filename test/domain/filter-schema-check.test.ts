import { describe, expect, it } from 'vitest';
import { filterSchemaProblem, type EventTypeSchema } from '../../src/domain/filter-schema-check.js';
import { compileFilter } from '../../src/publish/payload-filter.js';

const invoicePaid: EventTypeSchema = {
  name: 'invoice.paid',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['amount'],
    properties: {
      amount: { type: 'integer' },
      currency: { enum: ['EUR', 'USD'] },
      status: { const: 'paid' },
      note: { type: ['string', 'null'] },
      customer: {
        type: 'object',
        additionalProperties: false,
        properties: { country: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } },
      },
      lines: { type: 'array', items: { $ref: '#/$defs/line' } },
      pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }] },
      open: { type: 'object' },
      patterned: { type: 'object', additionalProperties: false, patternProperties: { '^x-': { type: 'string' } } },
      nothing: false,
    },
    $defs: { line: { type: 'object', additionalProperties: false, properties: { sku: { type: 'string' }, quantity: { type: 'integer' } } } },
  },
};

const problem = (filter: unknown, eventTypes: EventTypeSchema[] = [invoicePaid]) => filterSchemaProblem(compileFilter(filter).conditions, eventTypes);

describe('filterSchemaProblem', () => {
  const accepted: [string, unknown][] = [
    ['a declared property', { 'data.amount': { $gte: 1000 } }],
    ['an integer compared with a fraction', { 'data.amount': { $gt: 9.5 } }],
    ['an enum by value', { 'data.currency': { $in: ['EUR', 'GBP'] } }],
    ['a const', { 'data.status': 'paid' }],
    ['a nullable property against null', { 'data.note': null }],
    ['a nested declared property', { 'data.customer.country': 'DE' }],
    ['$contains on an array of strings', { 'data.customer.tags': { $contains: 'vip' } }],
    ['$contains on a string', { 'data.note': { $contains: 'x' } }],
    ['an array item through a local $ref', { 'data.lines.0.sku': 'A-1' }],
    ['a tuple item', { 'data.pair.1': { $gt: 1 } }],
    ['anything under an open object', { 'data.open.whatever.deeper': 5 }],
    ['patternProperties: not analysed, accepted', { 'data.patterned.y': 5 }],
    ['$exists false on a declared property', { 'data.note': { $exists: false } }],
    ['type and timestamp are strings', { type: 'invoice.paid', timestamp: { $gte: '2026-01-01' } }],
    ['$in mixing a possible and an impossible type', { 'data.amount': { $in: [5, 'five'] } }],
    ['the whole payload', { data: { $exists: true } }],
  ];
  it.each(accepted)('accepts %s', (_name, filter) => {
    expect(problem(filter)).toBeUndefined();
  });

  const refused: [string, unknown, string, RegExp][] = [
    ['an undeclared property where additionalProperties is false', { 'data.amout': 5 }, 'data.amout', /no such value can exist in events of invoice\.paid/],
    ['an undeclared nested property', { 'data.customer.city': 'Berlin' }, 'data.customer.city', /no such value/],
    ['an undeclared property of a $ref target', { 'data.lines.0.price': { $gt: 1 } }, 'data.lines.0.price', /no such value/],
    ['a member of an integer', { 'data.amount.cents': 1 }, 'data.amount.cents', /no such value/],
    ['a property the schema forbids', { 'data.nothing': { $exists: true } }, 'data.nothing', /no such value/],
    ['a member of the type', { 'type.name': 'x' }, 'type.name', /no such value/],
    ['$gt with a number on a string', { 'data.customer.country': { $gt: 5 } }, 'data.customer.country', /\$gt compares with number, but data\.customer\.country is always string in events of invoice\.paid/],
    ['$lt with a string on an integer', { 'data.amount': { $lt: '100' } }, 'data.amount', /\$lt compares with string, but data\.amount is always number/],
    ['equality with a string on an integer', { 'data.amount': '1000' }, 'data.amount', /\$eq compares with string/],
    ['$ne with null on a non-nullable', { 'data.amount': { $ne: null } }, 'data.amount', /\$ne compares with null/],
    ['an enum compared with a number', { 'data.currency': 5 }, 'data.currency', /always string/],
    ['$in with only impossible types', { 'data.amount': { $in: ['a', true] } }, 'data.amount', /\$in compares with boolean or string/],
    ['$contains on a number', { 'data.amount': { $contains: 1 } }, 'data.amount', /\$contains compares with array/],
    ['$gt with a number on the timestamp', { timestamp: { $gt: 5 } }, 'timestamp', /always string/],
    ['a tuple item of the wrong type', { 'data.pair.0': { $gt: 1 } }, 'data.pair.0', /always string/],
    ['inside $not and $or too', { $or: [{ type: 'x' }, { $not: { 'data.amout': 1 } }] }, 'data.amout', /no such value/],
  ];
  it.each(refused)('refuses %s', (_name, filter, path, message) => {
    const found = problem(filter);
    expect(found?.path).toBe(path);
    expect(found?.message).toMatch(/^filter: /);
    expect(found?.message).toContain(path);
    expect(found?.message).toMatch(message);
  });

  it('accepts a path possible in any one of the subscribed event types', () => {
    const refunded: EventTypeSchema = {
      name: 'invoice.refunded',
      schema: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string' }, amount: { type: 'string' } } },
    };
    expect(problem({ 'data.reason': 'fraud' }, [invoicePaid, refunded])).toBeUndefined();
    expect(problem({ 'data.amount': 'ten' }, [invoicePaid, refunded])).toBeUndefined();
    expect(problem({ 'data.amount': { $gt: 5 } }, [invoicePaid, refunded])).toBeUndefined();
    const both = problem({ 'data.neither': 1 }, [invoicePaid, refunded]);
    expect(both?.message).toMatch(/in events of invoice\.paid, invoice\.refunded/);
    expect(problem({ 'data.amount': true }, [invoicePaid, refunded])?.message).toMatch(/always number or string/);
  });

  it('an event type without a schema, or none at all, leaves only the body shape to check', () => {
    const open = { name: 'note.added', schema: null };
    expect(problem({ 'data.amout': 5 }, [invoicePaid, open])).toBeUndefined();
    expect(problem({ 'data.anything.at.all': { $gt: 1 } }, [])).toBeUndefined();
    expect(problem({ 'timestamp.year': 2026 }, [])?.path).toBe('timestamp.year');
    expect(problem({ type: 5 }, [open])?.message).toMatch(/type is always string/);
  });

  it('follows allOf (every branch) and anyOf / oneOf (any branch)', () => {
    const schema = (payload: object): EventTypeSchema[] => [{ name: 't', schema: payload }];
    const allOf = { allOf: [{ type: 'object', properties: { a: { type: 'string' } } }, { type: 'object', properties: { a: { minLength: 1 } } }] };
    expect(problem({ 'data.a': { $gt: 'x' } }, schema(allOf))).toBeUndefined();
    expect(problem({ 'data.a': { $gt: 1 } }, schema(allOf))?.message).toMatch(/always string/);
    const anyOf = {
      anyOf: [
        { type: 'object', additionalProperties: false, properties: { card: { type: 'string' } } },
        { type: 'object', additionalProperties: false, properties: { iban: { type: 'string' } } },
      ],
    };
    expect(problem({ 'data.card': 'x' }, schema(anyOf))).toBeUndefined();
    expect(problem({ 'data.iban': 'x' }, schema({ oneOf: anyOf.anyOf }))).toBeUndefined();
    expect(problem({ 'data.cash': 'x' }, schema(anyOf))?.path).toBe('data.cash');
    // Keywords it does not follow (not, if/then) take nothing away from those it does; unresolvable $refs allow anything.
    expect(problem({ 'data.x': 1 }, schema({ type: 'object', additionalProperties: false, not: { required: ['y'] }, if: {}, then: {} }))?.path).toBe('data.x');
    expect(problem({ 'data.x': 1 }, schema({ $ref: 'https://example.com/schema.json' }))).toBeUndefined();
    expect(problem({ 'data.x': 1 }, schema({ $ref: '#/$defs/missing' }))).toBeUndefined();
  });

  it('gives up, accepting, on schemas that would take too long to walk', () => {
    // A $ref cycle that never descends, and a deep anyOf fan-out: bounded, and anything is possible.
    const cycle = { $defs: { a: { $ref: '#/$defs/b' }, b: { $ref: '#/$defs/a' } }, $ref: '#/$defs/a' };
    expect(problem({ 'data.x': 1 }, [{ name: 't', schema: cycle }])).toBeUndefined();
    const fanOut: Record<string, unknown> = { $defs: { n: { anyOf: Array.from({ length: 20 }, () => ({ $ref: '#/$defs/n' })) } }, $ref: '#/$defs/n' };
    expect(problem({ 'data.x.y.z': 1 }, [{ name: 't', schema: fanOut }])).toBeUndefined();
  });

  it('reads members as own properties only', () => {
    const schema = { type: 'object', additionalProperties: false, properties: {} };
    expect(problem({ 'data.constructor': 1 }, [{ name: 't', schema }])?.path).toBe('data.constructor');
    expect(problem({ 'data.__proto__': 1 }, [{ name: 't', schema }])?.path).toBe('data.__proto__');
  });
});
