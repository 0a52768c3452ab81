/**
 * Checks a payload filter against the JSON Schemas of the event types it will see: a condition on
 * a path no event can have (a property an `additionalProperties: false` object lacks, a member of
 * a string), or a comparison with a type the schema never allows there, is refused. Only what is
 * certainly impossible is refused: keywords this check does not follow (`not`, `if`,
 * `patternProperties`, remote `$ref`s, …) make it assume anything is possible, `anyOf`/`oneOf`
 * allow what any branch allows, and a path possible in any one of the event types is accepted.
 * The schemas are read as plain JSON (tenant input): the walk is bounded in steps.
 */

import { BODY_FIELDS, type FilterCondition } from '../publish/payload-filter.js';

/** JSON types as bits of a set. */
const NULL = 1;
const BOOLEAN = 2;
const NUMBER = 4;
const STRING = 8;
const ARRAY = 16;
const OBJECT = 32;
const ANY = NULL | BOOLEAN | NUMBER | STRING | ARRAY | OBJECT;
const NONE = 0;

const TYPE_BITS: Record<string, number> = { null: NULL, boolean: BOOLEAN, number: NUMBER, integer: NUMBER, string: STRING, array: ARRAY, object: OBJECT };
const TYPE_NAMES: [number, string][] = [[NULL, 'null'], [BOOLEAN, 'boolean'], [NUMBER, 'number'], [STRING, 'string'], [ARRAY, 'array'], [OBJECT, 'object']];

/** Schema nodes visited per filter check, and nested at once, before the walk gives up and assumes anything is possible. */
const MAX_STEPS = 50_000;
const MAX_NESTING = 100;

interface StepBudget {
  left: number;
}

class OutOfSteps extends Error {}

function typeOf(value: unknown): number {
  if (value === null) return NULL;
  if (Array.isArray(value)) return ARRAY;
  switch (typeof value) {
    case 'boolean': return BOOLEAN;
    case 'number': return NUMBER;
    case 'string': return STRING;
    case 'object': return OBJECT;
    default: return ANY;
  }
}

function describeTypes(types: number): string {
  return TYPE_NAMES.filter(([bit]) => types & bit).map(([, name]) => name).join(' or ');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function own(node: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(node, key) ? node[key] : undefined;
}

const ARRAY_INDEX = /^(0|[1-9][0-9]{0,8})$/;

/** The types a node itself allows (`type`, `const`, `enum`), before its subschemas. */
function ownTypes(node: Record<string, unknown>): number {
  let types = ANY;
  const type = own(node, 'type');
  const names = typeof type === 'string' ? [type] : Array.isArray(type) ? type : null;
  if (names && names.every((name) => typeof name === 'string' && Object.hasOwn(TYPE_BITS, name))) {
    types &= names.reduce((bits: number, name: string) => bits | TYPE_BITS[name]!, NONE);
  }
  if (Object.hasOwn(node, 'const')) types &= typeOf(node.const);
  const values = own(node, 'enum');
  if (Array.isArray(values)) types &= values.reduce((bits: number, value) => bits | typeOf(value), NONE);
  return types;
}

/** The types the value at `segments` may have in instances of one JSON Schema. */
class SchemaWalk {
  constructor(
    private readonly root: unknown,
    private readonly budget: StepBudget,
  ) {}

  typesAt(node: unknown, segments: readonly string[], at: number, nesting = 0): number {
    if (--this.budget.left < 0 || nesting > MAX_NESTING) throw new OutOfSteps();
    const next = nesting + 1;
    if (node === false) return NONE;
    if (!isPlainObject(node)) return ANY;
    const ref = own(node, '$ref');
    // Keywords beside a $ref are left out: that allows at least as much in every draft.
    if (typeof ref === 'string') {
      const target = this.resolve(ref);
      return target === undefined ? ANY : this.typesAt(target, segments, at, next);
    }
    let types = ANY;
    const allOf = own(node, 'allOf');
    if (Array.isArray(allOf)) for (const branch of allOf) types &= this.typesAt(branch, segments, at, next);
    for (const keyword of ['anyOf', 'oneOf']) {
      const branches = own(node, keyword);
      if (Array.isArray(branches) && branches.length > 0) {
        types &= branches.reduce((bits: number, branch) => bits | this.typesAt(branch, segments, at, next), NONE);
      }
    }
    if (types === NONE) return NONE;
    const here = ownTypes(node);
    if (at === segments.length) return types & here;
    const segment = segments[at]!;
    let below = NONE;
    if (here & OBJECT) below |= this.typesAt(this.property(node, segment), segments, at + 1, next);
    if (here & ARRAY && ARRAY_INDEX.test(segment)) below |= this.typesAt(this.item(node, Number(segment)), segments, at + 1, next);
    return types & below;
  }

  /** The subschema a member `key` of an object must pass. */
  private property(node: Record<string, unknown>, key: string): unknown {
    const properties = own(node, 'properties');
    if (isPlainObject(properties) && Object.hasOwn(properties, key)) return properties[key];
    const patterns = own(node, 'patternProperties');
    if (isPlainObject(patterns) && Object.keys(patterns).length > 0) return true;
    return Object.hasOwn(node, 'additionalProperties') ? node.additionalProperties : true;
  }

  /** The subschema element `index` of an array must pass (2020-12 `prefixItems`, draft-07 tuple `items`). */
  private item(node: Record<string, unknown>, index: number): unknown {
    const prefix = own(node, 'prefixItems');
    const items = own(node, 'items');
    if (Array.isArray(prefix)) return index < prefix.length ? prefix[index] : (items ?? true);
    if (Array.isArray(items)) return index < items.length ? items[index] : (own(node, 'additionalItems') ?? true);
    return items ?? true;
  }

  /** A `$ref` inside the same schema (`#`, `#/$defs/x`, `#/definitions/x`); anything else is undefined. */
  private resolve(ref: string): unknown {
    if (ref !== '#' && !ref.startsWith('#/')) return undefined;
    let node: unknown = this.root;
    for (const raw of ref === '#' ? [] : ref.slice(2).split('/')) {
      let key: string;
      try {
        key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
      } catch {
        return undefined;
      }
      if (Array.isArray(node) && ARRAY_INDEX.test(key)) node = node[Number(key)];
      else if (isPlainObject(node) && Object.hasOwn(node, key)) node = node[key];
      else return undefined;
    }
    return node;
  }
}

/** The types the value at `segments` of a delivered body may have, given the payload's schema (null: none). */
function bodyTypesAt(payloadSchema: unknown, segments: readonly string[], budget: StepBudget): number {
  const [field] = segments;
  if (field === 'data') {
    if (payloadSchema === null || payloadSchema === undefined) return ANY;
    try {
      return new SchemaWalk(payloadSchema, budget).typesAt(payloadSchema, segments, 1);
    } catch (error) {
      if (error instanceof OutOfSteps) return ANY;
      throw error;
    }
  }
  if ((BODY_FIELDS as readonly string[]).includes(field!)) return segments.length === 1 ? STRING : NONE;
  return NONE;
}

export interface EventTypeSchema {
  name: string;
  schema: unknown;
}

export interface FilterSchemaProblem {
  path: string;
  message: string;
}

function named(eventTypes: readonly EventTypeSchema[]): string {
  const names = eventTypes.map((eventType) => eventType.name);
  const shown = names.slice(0, 5).join(', ');
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}

/**
 * The first condition the event types' schemas rule out, or undefined. `eventTypes` are the event
 * types the subscription receives (an empty list: none exist yet, only the body's shape is known);
 * a condition stands if it is possible in any one of them.
 */
export function filterSchemaProblem(conditions: readonly FilterCondition[], eventTypes: readonly EventTypeSchema[]): FilterSchemaProblem | undefined {
  const schemas = eventTypes.length > 0 ? eventTypes.map((eventType) => eventType.schema) : [null];
  const where = eventTypes.length > 0 ? ` in events of ${named(eventTypes)}` : '';
  const typesByPath = new Map<string, number>();
  const budget: StepBudget = { left: MAX_STEPS };
  for (const { path, segments, operator, operand } of conditions) {
    let types = typesByPath.get(path);
    if (types === undefined) {
      types = schemas.reduce((bits: number, schema) => bits | bodyTypesAt(schema, segments, budget), NONE);
      typesByPath.set(path, types);
    }
    if (types === NONE) {
      return { path, message: `filter: ${path}: no such value can exist${where} (their JSON Schema rules it out)` };
    }
    const compared = comparedTypes(operator, operand);
    if (compared !== undefined && (compared & types) === NONE) {
      return {
        path,
        message: `filter: ${path}: ${operator} compares with ${describeTypes(compared)}, but ${path} is always ${describeTypes(types)}${where}`,
      };
    }
  }
  return undefined;
}

/** The types an operator's test can hold on (undefined: any, or it is not about the value's type). */
function comparedTypes(operator: FilterCondition['operator'], operand: unknown): number | undefined {
  switch (operator) {
    case '$eq':
    case '$ne':
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return typeOf(operand);
    case '$in':
    case '$nin':
      return Array.isArray(operand) && operand.length > 0 ? operand.reduce((bits: number, value) => bits | typeOf(value), NONE) : undefined;
    case '$contains':
      return typeof operand === 'string' ? ARRAY | STRING : ARRAY;
    default:
      return undefined;
  }
}
