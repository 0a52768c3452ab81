import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BadUserInputError } from '../../src/errors.js';
import { fanOutCandidates } from '../../src/publish/fan-out.js';
import {
  compileFilter,
  filterDocument,
  FILTER_LIMITS,
  jsonEqual,
  storedFilterPredicate,
  type FilterDocument,
} from '../../src/publish/payload-filter.js';

const event: FilterDocument = {
  type: 'invoice.paid',
  timestamp: '2026-03-01T12:00:00.000Z',
  data: {
    amount: 1500,
    currency: 'EUR',
    paid: true,
    note: null,
    customer: { id: 'cus_1', country: 'DE', tags: ['vip', 'beta'] },
    items: [{ sku: 'A-1', quantity: 2 }, { sku: 'B-2', quantity: 1 }],
    description: 'Annual plan, paid by card',
    empty: {},
  },
};

const matches = (filter: unknown, document: FilterDocument = event) => compileFilter(filter).matches(document);

/** The BAD_USER_INPUT a filter gets: its message, field and path. */
function refusal(filter: unknown): { message: string; field: unknown; path: unknown } {
  try {
    compileFilter(filter);
  } catch (error) {
    expect(error).toBeInstanceOf(BadUserInputError);
    const extensions = (error as BadUserInputError).extensions as { code: string; field?: string; details?: { path?: string } };
    expect(extensions.code).toBe('BAD_USER_INPUT');
    return { message: (error as Error).message, field: extensions.field, path: extensions.details?.path };
  }
  throw new Error(`expected ${JSON.stringify(filter)} to be refused`);
}

describe('payload filters: operators', () => {
  const cases: [string, unknown, boolean][] = [
    // literals: deep equality, no coercion
    ['number literal', { 'data.amount': 1500 }, true],
    ['number literal, other value', { 'data.amount': 1499 }, false],
    ['no coercion from string', { 'data.amount': '1500' }, false],
    ['string literal', { 'data.currency': 'EUR' }, true],
    ['boolean literal', { 'data.paid': true }, true],
    ['null literal matches null', { 'data.note': null }, true],
    ['null literal does not match a missing path', { 'data.missing': null }, false],
    ['object literal: deep, key order free', { 'data.customer': { tags: ['vip', 'beta'], country: 'DE', id: 'cus_1' } }, true],
    ['object literal: a missing key differs', { 'data.customer': { country: 'DE', id: 'cus_1' } }, false],
    ['array literal: order matters', { 'data.customer.tags': ['beta', 'vip'] }, false],
    ['array literal', { 'data.customer.tags': ['vip', 'beta'] }, true],
    ['empty object literal', { 'data.empty': {} }, true],
    ['type and timestamp', { type: 'invoice.paid', timestamp: '2026-03-01T12:00:00.000Z' }, true],
    // $eq / $ne
    ['$eq', { 'data.currency': { $eq: 'EUR' } }, true],
    ['$eq with an object whose keys look like operators', { 'data.empty': { $eq: {} } }, true],
    ['$ne other value', { 'data.currency': { $ne: 'USD' } }, true],
    ['$ne same value', { 'data.currency': { $ne: 'EUR' } }, false],
    ['$ne holds on a missing path', { 'data.missing': { $ne: 'x' } }, true],
    ['$ne across types', { 'data.amount': { $ne: '1500' } }, true],
    // ordering
    ['$gt', { 'data.amount': { $gt: 1000 } }, true],
    ['$gt equal', { 'data.amount': { $gt: 1500 } }, false],
    ['$gte equal', { 'data.amount': { $gte: 1500 } }, true],
    ['$lt', { 'data.amount': { $lt: 1500 } }, false],
    ['$lte', { 'data.amount': { $lte: 1500 } }, true],
    ['range', { 'data.amount': { $gte: 1000, $lt: 2000 } }, true],
    ['range excluding', { 'data.amount': { $gte: 1000, $lt: 1200 } }, false],
    ['$gt on a string compares strings', { 'data.currency': { $gt: 'DKK' } }, true],
    ['$gt number against a string value is false', { 'data.currency': { $gt: 5 } }, false],
    ['$lt string against a number value is false', { 'data.amount': { $lt: 'zzz' } }, false],
    ['$gt on a missing path is false', { 'data.missing': { $gt: 0 } }, false],
    ['timestamps compare as ISO strings', { timestamp: { $gte: '2026-03-01T00:00:00.000Z', $lt: '2026-03-02T00:00:00.000Z' } }, true],
    // $in / $nin
    ['$in', { 'data.currency': { $in: ['EUR', 'USD'] } }, true],
    ['$in without it', { 'data.currency': { $in: ['GBP', 'USD'] } }, false],
    ['$in no coercion', { 'data.amount': { $in: ['1500'] } }, false],
    ['$in with objects', { 'data.items.0': { $in: [{ quantity: 2, sku: 'A-1' }] } }, true],
    ['$in empty list', { 'data.currency': { $in: [] } }, false],
    ['$in on a missing path', { 'data.missing': { $in: [null] } }, false],
    ['$nin', { 'data.currency': { $nin: ['GBP'] } }, true],
    ['$nin with it', { 'data.currency': { $nin: ['EUR'] } }, false],
    ['$nin holds on a missing path', { 'data.missing': { $nin: ['EUR'] } }, true],
    // $exists
    ['$exists true', { 'data.note': { $exists: true } }, true],
    ['$exists false on present (null) value', { 'data.note': { $exists: false } }, false],
    ['$exists false on a missing path', { 'data.missing': { $exists: false } }, true],
    ['$exists true on a missing path', { 'data.missing.deeper': { $exists: true } }, false],
    // $contains
    ['$contains in an array', { 'data.customer.tags': { $contains: 'vip' } }, true],
    ['$contains not in the array', { 'data.customer.tags': { $contains: 'vi' } }, false],
    ['$contains an object in an array', { 'data.items': { $contains: { sku: 'B-2', quantity: 1 } } }, true],
    ['$contains a substring', { 'data.description': { $contains: 'paid by' } }, true],
    ['$contains a missing substring', { 'data.description': { $contains: 'cash' } }, false],
    ['$contains a number in a string is false', { 'data.description': { $contains: 5 } }, false],
    ['$contains on a number is false', { 'data.amount': { $contains: 1 } }, false],
    // paths
    ['explicit array index', { 'data.items.1.sku': 'B-2' }, true],
    ['index out of range is missing', { 'data.items.2.sku': { $exists: false } }, true],
    ['no implicit traversal of arrays', { 'data.items.sku': 'A-1' }, false],
    ['no implicit traversal, $exists', { 'data.items.sku': { $exists: true } }, false],
    ['a path through a scalar is missing', { 'data.amount.value': { $exists: false } }, true],
    ['a path through null is missing', { 'data.note.x': { $exists: true } }, false],
    ['prototype members are not members', { 'data.customer.constructor': { $exists: true } }, false],
    ['__proto__ is not a member', { 'data.__proto__': { $exists: true } }, false],
    ['toString is not a member', { 'data.toString': { $exists: false } }, true],
    // combinations
    ['keys are ANDed', { 'data.currency': 'EUR', 'data.amount': { $gt: 2000 } }, false],
    ['$and', { $and: [{ 'data.currency': 'EUR' }, { 'data.amount': { $gt: 1000 } }] }, true],
    ['$and with a false one', { $and: [{ 'data.currency': 'EUR' }, { 'data.amount': { $gt: 2000 } }] }, false],
    ['$or', { $or: [{ 'data.currency': 'USD' }, { 'data.amount': { $gt: 1000 } }] }, true],
    ['$or all false', { $or: [{ 'data.currency': 'USD' }, { 'data.amount': { $gt: 2000 } }] }, false],
    ['$not', { $not: { 'data.customer.country': 'FR' } }, true],
    ['$not of a match', { $not: { 'data.customer.country': 'DE' } }, false],
    ['nested', { $or: [{ $and: [{ type: 'invoice.paid' }, { $not: { 'data.paid': false } }] }, { type: 'x' }] }, true],
    ['$and beside fields', { type: 'invoice.paid', $and: [{ 'data.paid': true }], $not: { 'data.amount': 0 } }, true],
    ['empty filter matches everything', {}, true],
    ['empty document in $or', { $or: [{}] }, true],
    ['the brief example', { 'data.amount': { $gte: 1000 }, 'data.currency': { $in: ['EUR', 'USD'] } }, true],
  ];

  it.each(cases)('%s', (_name, filter, expected) => {
    expect(matches(filter)).toBe(expected);
  });

  it('evaluates the same filter on many documents, and on a null-prototype payload', () => {
    const compiled = compileFilter({ 'data.amount': { $gte: 10 } });
    expect([1, 10, 100, '100', null].map((amount) => compiled.matches(filterDocument('x', new Date(0), { amount })))).toEqual([
      false,
      true,
      true,
      false,
      false,
    ]);
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { amount: 10 });
    expect(compiled.matches({ type: 'x', timestamp: '', data: bare })).toBe(true);
  });

  it('builds the document a delivery body carries', () => {
    const at = new Date('2026-03-01T12:00:00Z');
    expect(filterDocument('invoice.paid', at, { a: 1 })).toEqual({ type: 'invoice.paid', timestamp: '2026-03-01T12:00:00.000Z', data: { a: 1 } });
  });

  it('lists every operator test with its path, under any combinator', () => {
    const { conditions } = compileFilter({ 'data.a': 1, $or: [{ 'data.b': { $gt: 2, $lt: 5 } }, { $not: { type: { $in: ['x'] } } }] });
    expect(conditions.map(({ path, operator, operand }) => [path, operator, operand])).toEqual([
      ['data.a', '$eq', 1],
      ['data.b', '$gt', 2],
      ['data.b', '$lt', 5],
      ['type', '$in', ['x']],
    ]);
    expect(conditions[1]!.segments).toEqual(['data', 'b']);
  });
});

describe('payload filters: refusals name the path', () => {
  const cases: [string, unknown, RegExp, string | undefined][] = [
    ['not an object', ['data.a'], /a filter is an object of conditions, not an array/, undefined],
    ['null', null, /not null/, undefined],
    ['unknown operator', { 'data.amount': { $regex: '^1' } }, /data\.amount: unknown operator \$regex/, 'data.amount'],
    ['$where at the top', { $where: 'true' }, /\$where: unknown operator \$where/, '$where'],
    ['comparison operator at the top', { $gt: 1 }, /\$gt applies to a path/, '$gt'],
    ['$not on a path', { 'data.amount': { $not: { $gt: 5 } } }, /data\.amount: \$not combines filter documents, e\.g\. \{"\$not": \{"data\.amount": …\}\}/, 'data.amount'],
    ['$or on a path', { 'data.amount': { $or: [1, 2] } }, /\$or combines filter documents/, 'data.amount'],
    ['$gt with a boolean', { 'data.amount': { $gt: true } }, /data\.amount: \$gt takes a number or a string, not a boolean/, 'data.amount'],
    ['$lte with an object', { 'data.amount': { $lte: {} } }, /\$lte takes a number or a string, not an object/, 'data.amount'],
    ['$in with a string', { 'data.currency': { $in: 'EUR' } }, /data\.currency: \$in takes a list of values, not a string/, 'data.currency'],
    ['$nin with null', { 'data.currency': { $nin: null } }, /\$nin takes a list of values, not null/, 'data.currency'],
    ['$exists with a string', { 'data.x': { $exists: 'yes' } }, /data\.x: \$exists takes true or false/, 'data.x'],
    ['mixed operators and fields', { 'data.customer': { $exists: true, country: 'DE' } }, /data\.customer: an object mixes operators/, 'data.customer'],
    ['$and not a list', { $and: { 'data.a': 1 } }, /\$and: \$and takes a non-empty list/, '$and'],
    ['$or empty', { $or: [] }, /\$or: \$or takes a non-empty list/, '$or'],
    ['$or entry not a document', { $or: [{ 'data.a': 1 }, 'x'] }, /\$or\[1\]: a filter document is an object/, '$or[1]'],
    ['$not a list', { $not: [{ 'data.a': 1 }] }, /\$not: a filter document is an object of conditions, not an array/, '$not'],
    ['nested location', { $or: [{ $not: { 'data.a': { $near: 1 } } }] }, /data\.a: unknown operator \$near/, 'data.a'],
    ['path outside the body', { amount: 5 }, /amount: a path starts with type, timestamp or data .* e\.g\. data\.amount/, 'amount'],
    ['empty segment', { 'data..amount': 5 }, /data\.\.amount: a path is dot-separated names/, 'data..amount'],
    ['trailing dot', { 'data.': 5 }, /a path is dot-separated names/, 'data.'],
    ['too many segments', { [`data${'.a'.repeat(FILTER_LIMITS.pathSegments)}`]: 1 }, /at most 16 segments/, undefined],
  ];

  it.each(cases)('%s', (_name, filter, message, path) => {
    const problem = refusal(filter);
    expect(problem.field).toBe('filter');
    expect(problem.message).toMatch(/^filter: /);
    expect(problem.message).toMatch(message);
    if (path !== undefined) expect(problem.path).toBe(path);
  });
});

describe('payload filters: bounds', () => {
  it('refuses more than 8 KB of JSON', () => {
    const big = { 'data.note': { $in: Array.from({ length: 90 }, (_, index) => `${index}`.padEnd(95, 'x')) } };
    expect(JSON.stringify(big).length).toBeGreaterThan(FILTER_LIMITS.bytes);
    expect(refusal(big).message).toMatch(/at most 8192 bytes of JSON/);
    // Multi-byte characters count as bytes.
    expect(refusal({ 'data.a': { $in: Array.from({ length: 5 }, () => 'é'.repeat(900)) } }).message).toMatch(/8192 bytes/);
  });

  it('refuses documents nested deeper than the limit, and accepts the limit', () => {
    const nested = (levels: number): unknown => (levels === 0 ? { 'data.a': 1 } : { $not: nested(levels - 1) });
    expect(() => compileFilter(nested(FILTER_LIMITS.depth - 1))).not.toThrow();
    expect(refusal(nested(FILTER_LIMITS.depth)).message).toMatch(/nest at most 8 levels/);
  });

  it('refuses more than 50 conditions', () => {
    const conditions = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`data.f${index}`, index]));
    expect(compileFilter(conditions(FILTER_LIMITS.conditions)).conditions).toHaveLength(50);
    const problem = refusal(conditions(FILTER_LIMITS.conditions + 1));
    expect(problem.message).toMatch(/data\.f50: a filter may hold at most 50 conditions/);
    // Operators of one path count one each.
    const ranges = Object.fromEntries(Array.from({ length: 26 }, (_, index) => [`data.f${index}`, { $gt: 0, $lt: 9 }]));
    expect(refusal(ranges).message).toMatch(/at most 50 conditions/);
  });

  it('refuses long $in lists, long string operands and long paths', () => {
    expect(refusal({ 'data.a': { $in: Array.from({ length: 101 }, (_, index) => index) } }).message).toMatch(/\$in takes at most 100 values/);
    const long = 'x'.repeat(FILTER_LIMITS.stringLength + 1);
    expect(refusal({ 'data.a': long }).message).toMatch(/data\.a: \$eq takes strings of at most 1000 characters/);
    expect(refusal({ 'data.a': { $contains: long } }).message).toMatch(/\$contains takes strings/);
    expect(refusal({ 'data.a': { $nin: [long] } }).message).toMatch(/\$nin takes strings/);
    expect(refusal({ 'data.a': { $gte: long } }).message).toMatch(/\$gte takes strings/);
    expect(refusal({ [`data.${'a'.repeat(FILTER_LIMITS.pathLength)}`]: 1 }).message).toMatch(/at most 200 characters/);
  });

  it('a stored filter that no longer compiles matches nothing; none matches everything', () => {
    expect(storedFilterPredicate(null)).toBeNull();
    expect(storedFilterPredicate(undefined)).toBeNull();
    const broken = storedFilterPredicate({ 'data.a': { $regex: 'x' } })!;
    expect(broken(event)).toBe(false);
    expect(storedFilterPredicate({ 'data.amount': 1500 })!(event)).toBe(true);
  });
});

describe('fanOutCandidates', () => {
  it('compiles each filter once; a subscription without one gets no predicate at all', () => {
    const base = { enabled: true, ordered: false, eventTypes: ['invoice.paid'], channels: null };
    const [plain, filtered] = fanOutCandidates([
      { id: 'sub_plain', ...base, filter: null },
      { id: 'sub_filtered', ...base, filter: { 'data.amount': { $gt: 1000 } } },
    ]);
    expect(plain!.accepts).toBeNull();
    expect(filtered!.accepts!(event)).toBe(true);
    expect(filtered!.accepts!({ ...event, data: { amount: 10 } })).toBe(false);
    expect(filtered!.id).toBe('sub_filtered');
  });
});

describe('jsonEqual', () => {
  it('is deep, ignores key order, keeps array order, never coerces', () => {
    expect(jsonEqual({ a: [1, { b: null }] }, { a: [1, { b: null }] })).toBe(true);
    expect(jsonEqual({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
    expect(jsonEqual({}, [])).toBe(false);
    expect(jsonEqual(1, '1')).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
  });
});

/**
 * The compiled filter against a reference evaluator written the plain way: recursion over the raw
 * filter, JSON.stringify of sorted keys for equality. Random filters over a small vocabulary of
 * paths and values, random documents over the same.
 */
describe('payload filters: the compiled form agrees with a reference evaluator', () => {
  const MISSING = Symbol('missing');

  function canonical(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
    if (typeof value === 'object' && value !== null) {
      return `{${Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`).join(',')}}`;
    }
    return JSON.stringify(value);
  }

  function read(document: unknown, path: string): unknown {
    let current: unknown = document;
    for (const segment of path.split('.')) {
      if (Array.isArray(current)) {
        if (!/^(0|[1-9]\d*)$/.test(segment) || Number(segment) >= current.length) return MISSING;
        current = current[Number(segment)];
      } else if (typeof current === 'object' && current !== null && Object.prototype.hasOwnProperty.call(current, segment)) {
        current = (current as Record<string, unknown>)[segment];
      } else {
        return MISSING;
      }
    }
    return current;
  }

  function test(value: unknown, operator: string, operand: unknown): boolean {
    const equal = (a: unknown, b: unknown) => a !== MISSING && canonical(a) === canonical(b);
    switch (operator) {
      case '$eq': return equal(value, operand);
      case '$ne': return !equal(value, operand);
      case '$in': return (operand as unknown[]).some((entry) => equal(value, entry));
      case '$nin': return !(operand as unknown[]).some((entry) => equal(value, entry));
      case '$exists': return (value !== MISSING) === operand;
      case '$contains':
        if (Array.isArray(value)) return value.some((entry) => equal(entry, operand));
        return typeof value === 'string' && typeof operand === 'string' && value.includes(operand);
      default: {
        if (typeof value !== typeof operand || (typeof value !== 'number' && typeof value !== 'string')) return false;
        const [a, b] = [value as number, operand as number];
        return operator === '$gt' ? a > b : operator === '$gte' ? a >= b : operator === '$lt' ? a < b : a <= b;
      }
    }
  }

  function evaluate(filter: Record<string, unknown>, document: unknown): boolean {
    return Object.entries(filter).every(([key, value]) => {
      if (key === '$and') return (value as Record<string, unknown>[]).every((entry) => evaluate(entry, document));
      if (key === '$or') return (value as Record<string, unknown>[]).some((entry) => evaluate(entry, document));
      if (key === '$not') return !evaluate(value as Record<string, unknown>, document);
      const resolved = read(document, key);
      const isOperators = typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0;
      if (!isOperators) return test(resolved, '$eq', value);
      return Object.entries(value).every(([operator, operand]) => test(resolved, operator, operand));
    });
  }

  const scalar = fc.oneof(fc.constantFrom(0, 1, 2, -1, 1.5, 'a', 'b', 'ab', '', true, false, null));
  const value = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(fc.constantFrom('a', 'b', '0'), tie('value'), { maxKeys: 3 })),
  })).value;
  const path = fc.constantFrom('data', 'data.a', 'data.b', 'data.a.b', 'data.a.0', 'data.0', 'type', 'data.a.a');
  const condition = fc.oneof(
    fc.tuple(fc.constantFrom('$eq', '$ne', '$contains'), value),
    fc.tuple(fc.constantFrom('$gt', '$gte', '$lt', '$lte'), fc.constantFrom(0, 1, 1.5, 'a', 'ab', '')),
    fc.tuple(fc.constantFrom('$in', '$nin'), fc.array(value, { maxLength: 3 })),
    fc.tuple(fc.constant('$exists'), fc.boolean()),
  );
  const fieldValue = fc.oneof(
    scalar,
    fc.array(condition, { minLength: 1, maxLength: 2 }).map((pairs) => Object.fromEntries(pairs)),
  );
  const filter = fc.letrec((tie) => ({
    document: fc.oneof(
      { depthSize: 'small' },
      fc.dictionary(path, fieldValue, { minKeys: 1, maxKeys: 3 }),
      fc.array(tie('document'), { minLength: 1, maxLength: 3 }).map((documents) => ({ $and: documents })),
      fc.array(tie('document'), { minLength: 1, maxLength: 3 }).map((documents) => ({ $or: documents })),
      tie('document').map((document) => ({ $not: document })),
    ),
  })).document as fc.Arbitrary<Record<string, unknown>>;
  const document = fc.record({ type: fc.constantFrom('a', 'b'), timestamp: fc.constant('2026-01-01T00:00:00.000Z'), data: value });

  it('on random filters and documents', () => {
    fc.assert(
      fc.property(filter, fc.array(document, { minLength: 1, maxLength: 5 }), (raw, documents) => {
        let compiled;
        try {
          compiled = compileFilter(raw);
        } catch {
          return true; // beyond a bound: nothing to compare
        }
        for (const each of documents) expect(compiled.matches(each as FilterDocument)).toBe(evaluate(raw, each));
        return true;
      }),
      { numRuns: 500 },
    );
  });
});
