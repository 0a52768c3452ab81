/**
 * Payload filters: a small query language over the delivered body `{type, timestamp, data}` that
 * decides whether a subscription receives an event. A filter is tenant input, so it is parsed once
 * into a tree of closures (never evaluated as code) and bounded in size, depth, conditions, list
 * lengths and string lengths: evaluating it costs at most a few hundred comparisons per event.
 *
 * Semantics (docs/subscriptions.md#filtering-events):
 * - a document's keys are ANDed; a key is a dotted path (`data.customer.country`) or one of
 *   `$and` / `$or` (non-empty lists of documents) and `$not` (one document);
 * - a path's value is a literal (deep equality) or an object of operators, all of which must hold;
 * - a path walks objects by key and arrays only by an explicit index (`data.items.0.sku`): there
 *   is no implicit traversal of arrays, except `$contains`, which looks at a whole array;
 * - a missing path equals nothing (not even null); `$ne` and `$nin` are the negations of `$eq` and
 *   `$in`, so they hold on a missing path; `$exists: false` holds only on a missing path;
 * - no coercion: `$gt`/`$gte`/`$lt`/`$lte` compare numbers with numbers and strings with strings
 *   (by UTF-16 code unit, so ISO-8601 timestamps compare by time); any other pair is false.
 */

import { BadUserInputError } from '../errors.js';

export const FILTER_LIMITS = {
  /** The filter as compact JSON, in UTF-8 bytes. */
  bytes: 8 * 1024,
  /** Documents nested inside one another through `$and`, `$or` and `$not`. */
  depth: 8,
  /** Operator tests (a literal counts as one `$eq`). */
  conditions: 50,
  /** Entries of an `$in` / `$nin` list. */
  listLength: 100,
  /** A string operand, in UTF-16 code units. */
  stringLength: 1_000,
  /** A dotted path, in characters and in segments. */
  pathLength: 200,
  pathSegments: 16,
} as const;

export const COMPARISON_OPERATORS = ['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$contains'] as const;
export type ComparisonOperator = (typeof COMPARISON_OPERATORS)[number];
export const LOGICAL_OPERATORS = ['$and', '$or', '$not'] as const;
/** The members of the delivered body: every path starts with one of them. */
export const BODY_FIELDS = ['type', 'timestamp', 'data'] as const;

/** What a filter is evaluated on: the delivered body as an object. */
export interface FilterDocument {
  type: string;
  timestamp: string;
  data: unknown;
}

export type FilterPredicate = (document: FilterDocument) => boolean;

/** One operator test of a filter, as the JSON Schema check looks at it. */
export interface FilterCondition {
  path: string;
  segments: readonly string[];
  operator: ComparisonOperator;
  operand: unknown;
}

export interface CompiledFilter {
  matches: FilterPredicate;
  /** Every operator test, wherever it sits under `$and` / `$or` / `$not`. */
  conditions: readonly FilterCondition[];
}

/**
 * A stored filter as fan-out applies it; null for none. Stored filters were checked when they were
 * set: one that no longer compiles matches nothing, since a filter only ever narrows what a
 * subscription receives.
 */
export function storedFilterPredicate(filter: unknown): FilterPredicate | null {
  if (filter === null || filter === undefined) return null;
  try {
    return compileFilter(filter).matches;
  } catch {
    return () => false;
  }
}

/** The filter document of an event: what its deliveries carry as their body. */
export function filterDocument(eventType: string, createdAt: Date, payload: unknown): FilterDocument {
  return { type: eventType, timestamp: createdAt.toISOString(), data: payload };
}

const MISSING = Symbol('missing');
type Resolved = unknown;
type ValueTest = (value: Resolved) => boolean;

const OPERATOR_LIST = COMPARISON_OPERATORS.join(' ');

/** `where` is the path or operator at fault (`data.amount`, `$or[1].$not`), or '' for the whole filter. */
function refuse(where: string, problem: string): never {
  throw new BadUserInputError(where ? `filter: ${where}: ${problem}` : `filter: ${problem}`, 'filter', where ? { path: where } : undefined);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonTypeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** JSON deep equality: key order does not matter, array order does, no coercion. */
export function jsonEqual(value: unknown, operand: unknown): boolean {
  if (value === operand) return true;
  if (typeof value !== 'object' || typeof operand !== 'object' || value === null || operand === null) return false;
  if (Array.isArray(operand)) {
    if (!Array.isArray(value) || value.length !== operand.length) return false;
    for (let index = 0; index < operand.length; index++) if (!jsonEqual(value[index], operand[index])) return false;
    return true;
  }
  if (Array.isArray(value)) return false;
  const keys = Object.keys(operand);
  if (Object.keys(value).length !== keys.length) return false;
  for (const key of keys) {
    if (!Object.hasOwn(value, key)) return false;
    if (!jsonEqual((value as Record<string, unknown>)[key], (operand as Record<string, unknown>)[key])) return false;
  }
  return true;
}

const ARRAY_INDEX = /^(0|[1-9][0-9]{0,8})$/;

/** Reads a path: objects by own key, arrays by index only; anything else is MISSING. */
function pathReader(segments: readonly string[]): (document: unknown) => Resolved {
  const indexes = segments.map((segment) => (ARRAY_INDEX.test(segment) ? Number(segment) : -1));
  return (document) => {
    let current: unknown = document;
    for (let at = 0; at < segments.length; at++) {
      if (Array.isArray(current)) {
        const index = indexes[at]!;
        if (index < 0 || index >= current.length) return MISSING;
        current = current[index];
      } else if (typeof current === 'object' && current !== null) {
        const key = segments[at]!;
        if (!Object.hasOwn(current, key)) return MISSING;
        current = (current as Record<string, unknown>)[key];
      } else {
        return MISSING;
      }
    }
    return current;
  };
}

function parsePath(path: string): string[] {
  if (path.length > FILTER_LIMITS.pathLength) refuse(path.slice(0, 50), `a path may be at most ${FILTER_LIMITS.pathLength} characters`);
  const segments = path.split('.');
  if (segments.some((segment) => segment.length === 0)) refuse(path, 'a path is dot-separated names, none of them empty');
  if (segments.length > FILTER_LIMITS.pathSegments) refuse(path, `a path may have at most ${FILTER_LIMITS.pathSegments} segments`);
  if (!(BODY_FIELDS as readonly string[]).includes(segments[0]!)) {
    refuse(path, `a path starts with type, timestamp or data (the delivered body), e.g. data.${path}`);
  }
  return segments;
}

function checkString(path: string, operator: string, value: unknown): void {
  if (typeof value === 'string' && value.length > FILTER_LIMITS.stringLength) {
    refuse(path, `${operator} takes strings of at most ${FILTER_LIMITS.stringLength} characters`);
  }
}

function equalityTest(operand: unknown): ValueTest {
  if (typeof operand !== 'object' || operand === null) return (value) => value === operand;
  return (value) => value !== MISSING && jsonEqual(value, operand);
}

function membershipTest(path: string, operator: string, operand: unknown): ValueTest {
  if (!Array.isArray(operand)) refuse(path, `${operator} takes a list of values, not ${jsonTypeName(operand)}`);
  if (operand.length > FILTER_LIMITS.listLength) refuse(path, `${operator} takes at most ${FILTER_LIMITS.listLength} values`);
  for (const entry of operand) checkString(path, operator, entry);
  const scalars = new Set(operand.filter((entry) => typeof entry !== 'object' || entry === null));
  const structured = operand.filter((entry) => typeof entry === 'object' && entry !== null);
  if (structured.length === 0) return (value) => scalars.has(value);
  return (value) => scalars.has(value) || (value !== MISSING && structured.some((entry) => jsonEqual(value, entry)));
}

function orderingTest(path: string, operator: string, operand: unknown): ValueTest {
  if (typeof operand === 'number') {
    switch (operator) {
      case '$gt': return (value) => typeof value === 'number' && value > operand;
      case '$gte': return (value) => typeof value === 'number' && value >= operand;
      case '$lt': return (value) => typeof value === 'number' && value < operand;
      default: return (value) => typeof value === 'number' && value <= operand;
    }
  }
  if (typeof operand === 'string') {
    checkString(path, operator, operand);
    switch (operator) {
      case '$gt': return (value) => typeof value === 'string' && value > operand;
      case '$gte': return (value) => typeof value === 'string' && value >= operand;
      case '$lt': return (value) => typeof value === 'string' && value < operand;
      default: return (value) => typeof value === 'string' && value <= operand;
    }
  }
  return refuse(path, `${operator} takes a number or a string, not ${jsonTypeName(operand)}`);
}

function operatorTest(path: string, operator: string, operand: unknown): ValueTest {
  switch (operator) {
    case '$eq':
    case '$ne': {
      checkString(path, operator, operand);
      const equal = equalityTest(operand);
      return operator === '$eq' ? equal : (value) => !equal(value);
    }
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return orderingTest(path, operator, operand);
    case '$in':
    case '$nin': {
      const member = membershipTest(path, operator, operand);
      return operator === '$in' ? member : (value) => !member(value);
    }
    case '$exists':
      if (typeof operand !== 'boolean') refuse(path, `$exists takes true or false, not ${jsonTypeName(operand)}`);
      return operand ? (value) => value !== MISSING : (value) => value === MISSING;
    case '$contains':
      checkString(path, operator, operand);
      return (value) => {
        if (Array.isArray(value)) return value.some((element) => jsonEqual(element, operand));
        return typeof value === 'string' && typeof operand === 'string' && value.includes(operand);
      };
    default:
      if ((LOGICAL_OPERATORS as readonly string[]).includes(operator)) {
        return refuse(path, `${operator} combines filter documents, e.g. {"${operator}": ${operator === '$not' ? `{"${path}": …}` : `[{"${path}": …}, …]`}}`);
      }
      return refuse(path, `unknown operator ${operator.slice(0, 50)} (operators: ${OPERATOR_LIST})`);
  }
}

function allOf(parts: readonly FilterPredicate[]): FilterPredicate {
  if (parts.length === 0) return () => true;
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 2) {
    const [first, second] = parts as [FilterPredicate, FilterPredicate];
    return (document) => first(document) && second(document);
  }
  return (document) => {
    for (const part of parts) if (!part(document)) return false;
    return true;
  };
}

function anyOf(parts: readonly FilterPredicate[]): FilterPredicate {
  if (parts.length === 1) return parts[0]!;
  return (document) => {
    for (const part of parts) if (part(document)) return true;
    return false;
  };
}

class FilterParser {
  readonly conditions: FilterCondition[] = [];

  document(value: unknown, where: string, depth: number): FilterPredicate {
    if (!isPlainObject(value)) refuse(where, `a filter document is an object of conditions, not ${jsonTypeName(value)}`);
    if (depth > FILTER_LIMITS.depth) refuse(where, `documents may nest at most ${FILTER_LIMITS.depth} levels deep`);
    const parts: FilterPredicate[] = [];
    for (const [key, operand] of Object.entries(value)) {
      parts.push(key.startsWith('$') ? this.logical(key, operand, where, depth) : this.field(key, operand));
    }
    return allOf(parts);
  }

  private logical(operator: string, operand: unknown, where: string, depth: number): FilterPredicate {
    const at = where === '' ? operator : `${where}.${operator}`;
    if (operator === '$not') {
      const inner = this.document(operand, at, depth + 1);
      return (document) => !inner(document);
    }
    if (operator === '$and' || operator === '$or') {
      if (!Array.isArray(operand) || operand.length === 0) refuse(at, `${operator} takes a non-empty list of filter documents`);
      const parts = operand.map((entry, index) => this.document(entry, `${at}[${index}]`, depth + 1));
      return operator === '$and' ? allOf(parts) : anyOf(parts);
    }
    const known = (COMPARISON_OPERATORS as readonly string[]).includes(operator)
      ? `${operator} applies to a path, e.g. {"data.amount": {"${operator}": …}}`
      : `unknown operator ${operator.slice(0, 50)} (documents combine with $and, $or, $not)`;
    return refuse(at, known);
  }

  private field(path: string, value: unknown): FilterPredicate {
    const segments = parsePath(path);
    const read = pathReader(segments);
    const tests: ValueTest[] = [];
    const operators = isPlainObject(value) ? Object.keys(value) : [];
    const operatorCount = operators.filter((key) => key.startsWith('$')).length;
    if (operatorCount > 0 && operatorCount < operators.length) {
      refuse(path, 'an object mixes operators ($…) with field names: write nested fields as dotted paths, or compare a literal object with $eq');
    }
    const entries: [string, unknown][] = operatorCount > 0 ? Object.entries(value as Record<string, unknown>) : [['$eq', value]];
    for (const [operator, operand] of entries) {
      tests.push(operatorTest(path, operator, operand));
      this.conditions.push({ path, segments, operator: operator as ComparisonOperator, operand });
      if (this.conditions.length > FILTER_LIMITS.conditions) refuse(path, `a filter may hold at most ${FILTER_LIMITS.conditions} conditions`);
    }
    if (tests.length === 1) {
      const [test] = tests as [ValueTest];
      return (document) => test(read(document));
    }
    return (document) => {
      const resolved = read(document);
      for (const test of tests) if (!test(resolved)) return false;
      return true;
    };
  }
}

/** Bytes of compact JSON. */
function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '');
}

/**
 * Parses and checks a filter; throws BAD_USER_INPUT (field `filter`, `details.path`) naming the
 * path or operator at fault. The result evaluates documents without allocating.
 */
export function compileFilter(filter: unknown): CompiledFilter {
  if (!isPlainObject(filter)) refuse('', `a filter is an object of conditions, not ${jsonTypeName(filter)}`);
  if (jsonBytes(filter) > FILTER_LIMITS.bytes) refuse('', `a filter may be at most ${FILTER_LIMITS.bytes} bytes of JSON`);
  const parser = new FilterParser();
  const root = parser.document(filter, '', 1);
  return { matches: root, conditions: parser.conditions };
}
