/**
 * Example payloads made from a tenant's JSON Schema, for test events and the event catalog: the
 * same schema always gives the same example. A tenant's schema is hostile input, so the work is
 * bounded (EXAMPLE_LIMITS) and gives up rather than grow; what it makes is only a candidate, which
 * the caller checks against the schema itself. Covers the common keywords (type, properties,
 * required, items, prefixItems, enum, const, default, examples, the numeric and length bounds,
 * formats, local `$ref`s, allOf and the first branch of anyOf/oneOf); not `pattern`: a schema
 * with patterns gets its example from its own `examples`.
 */

type SchemaObject = Record<string, unknown>;

export const EXAMPLE_LIMITS = {
  /** Values made in all. */
  values: 2_000,
  /** Characters of all strings made. */
  characters: 64 * 1024,
  /** `$ref`s followed inside one another. */
  nestedReferences: 8,
  /** The largest `minItems`, `minProperties` and `minLength` honoured. */
  minItems: 16,
  minProperties: 32,
  minLength: 1_000,
} as const;

/** What `examplePayload` makes when the schema asks for more than the limits, or for nothing at all (`false`). */
const GIVE_UP: unique symbol = Symbol('give up');
type Made = unknown | typeof GIVE_UP;

const FORMAT_EXAMPLES: Record<string, string> = {
  'date-time': '2026-01-01T12:00:00.000Z',
  date: '2026-01-01',
  time: '12:00:00Z',
  duration: 'P1D',
  email: 'user@example.com',
  'idn-email': 'user@example.com',
  hostname: 'example.com',
  'idn-hostname': 'example.com',
  ipv4: '192.0.2.1',
  ipv6: '2001:db8::1',
  uri: 'https://example.com/',
  iri: 'https://example.com/',
  url: 'https://example.com/',
  'uri-reference': 'https://example.com/',
  'iri-reference': 'https://example.com/',
  'uri-template': 'https://example.com/{id}',
  uuid: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
  'json-pointer': '/example',
  'relative-json-pointer': '0',
  regex: '.*',
};

function isObject(value: unknown): value is SchemaObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

class ExampleMaker {
  private values = 0;
  private characters = 0;

  constructor(
    private readonly root: unknown,
    /** False: optional properties are left out, for schemas whose optional parts cannot all be met at once. */
    private readonly withOptional: boolean,
  ) {}

  make(schema: unknown, references: number): Made {
    if (++this.values > EXAMPLE_LIMITS.values) return GIVE_UP;
    if (schema === false) return GIVE_UP;
    if (!isObject(schema)) return null;
    if (typeof schema.$ref === 'string') {
      if (references >= EXAMPLE_LIMITS.nestedReferences) return GIVE_UP;
      const target = this.resolve(schema.$ref);
      if (target === undefined) return GIVE_UP;
      // Keywords beside a `$ref` apply too (2020-12): the target's, then these.
      const { $ref: _ref, ...beside } = schema;
      return this.make(Object.keys(beside).length === 0 ? target : merge(isObject(target) ? target : {}, beside), references + 1);
    }
    if (Array.isArray(schema.examples) && schema.examples.length > 0) return structuredClone(schema.examples[0]);
    if ('const' in schema) return structuredClone(schema.const);
    if ('default' in schema) return structuredClone(schema.default);
    if (Array.isArray(schema.enum)) return schema.enum.length > 0 ? structuredClone(schema.enum[0]) : GIVE_UP;
    if (Array.isArray(schema.allOf)) {
      const { allOf, ...rest } = schema;
      return this.make(allOf.reduce<SchemaObject>((merged, part) => merge(merged, isObject(part) ? part : {}), rest), references);
    }
    for (const keyword of ['anyOf', 'oneOf'] as const) {
      const branches = schema[keyword];
      if (Array.isArray(branches) && branches.length > 0) {
        const { [keyword]: _branches, ...rest } = schema;
        return this.make(merge(rest, isObject(branches[0]) ? branches[0] : {}), references);
      }
    }
    switch (typeOf(schema)) {
      case 'object':
        return this.object(schema, references);
      case 'array':
        return this.array(schema, references);
      case 'string':
        return this.string(schema);
      case 'integer':
        return numberIn(schema, true);
      case 'number':
        return numberIn(schema, false);
      case 'boolean':
        return true;
      default:
        return null;
    }
  }

  private object(schema: SchemaObject, references: number): Made {
    const properties = isObject(schema.properties) ? schema.properties : {};
    const required = new Set(Array.isArray(schema.required) ? schema.required.filter((name): name is string => typeof name === 'string') : []);
    const result: Record<string, unknown> = {};
    const names = this.withOptional ? [...new Set([...Object.keys(properties), ...required])] : [...required];
    for (const name of names) {
      const propertySchema = Object.hasOwn(properties, name) ? properties[name] : isObject(schema.additionalProperties) ? schema.additionalProperties : true;
      const value = this.make(propertySchema, references);
      if (value === GIVE_UP) {
        // An optional property that cannot be made (a recursion too deep) is left out.
        if (required.has(name)) return GIVE_UP;
        continue;
      }
      result[name] = value;
    }
    const minProperties = finite(schema.minProperties) ?? 0;
    if (minProperties > EXAMPLE_LIMITS.minProperties) return GIVE_UP;
    const extra = isObject(schema.additionalProperties) ? schema.additionalProperties : true;
    for (let index = 1; Object.keys(result).length < minProperties; index++) {
      if (Object.hasOwn(result, `property${index}`)) continue;
      const value = this.make(extra, references);
      if (value === GIVE_UP) return GIVE_UP;
      result[`property${index}`] = value;
    }
    return result;
  }

  private array(schema: SchemaObject, references: number): Made {
    // draft-07 writes a tuple as `items: [...]` (and the rest as additionalItems); 2020-12 as prefixItems (and items).
    const tuple = Array.isArray(schema.prefixItems) ? schema.prefixItems : Array.isArray(schema.items) ? schema.items : [];
    const rest = Array.isArray(schema.items) ? schema.additionalItems : schema.items;
    const minItems = finite(schema.minItems) ?? 0;
    const maxItems = finite(schema.maxItems) ?? Number.POSITIVE_INFINITY;
    if (minItems > EXAMPLE_LIMITS.minItems) return GIVE_UP;
    const itemSchema = rest ?? schema.contains ?? true;
    // One item shows its shape, where the schema describes one.
    const wanted = Math.min(maxItems, Math.max(minItems, tuple.length, rest !== undefined || schema.contains !== undefined ? 1 : 0));
    const result: unknown[] = [];
    for (let index = 0; index < wanted; index++) {
      const value = this.make(index < tuple.length ? tuple[index] : itemSchema, references);
      if (value === GIVE_UP) return GIVE_UP;
      result.push(value);
    }
    return result;
  }

  private string(schema: SchemaObject): Made {
    const minLength = finite(schema.minLength) ?? 0;
    const maxLength = finite(schema.maxLength) ?? Number.POSITIVE_INFINITY;
    if (minLength > EXAMPLE_LIMITS.minLength) return GIVE_UP;
    let text = (typeof schema.format === 'string' && FORMAT_EXAMPLES[schema.format]) || 'string';
    if (text.length < minLength) text = text.padEnd(minLength, 'x');
    if (text.length > maxLength) text = text.slice(0, Math.max(0, maxLength));
    this.characters += text.length;
    return this.characters > EXAMPLE_LIMITS.characters ? GIVE_UP : text;
  }

  private resolve(reference: string): unknown {
    if (!reference.startsWith('#')) return undefined;
    let target: unknown = this.root;
    const pointer = reference.slice(1);
    if (pointer === '') return target;
    if (!pointer.startsWith('/')) return undefined;
    for (const token of pointer.slice(1).split('/')) {
      const key = decodeURIComponent(token).replace(/~1/g, '/').replace(/~0/g, '~');
      if (!isObject(target) && !Array.isArray(target)) return undefined;
      if (!Object.hasOwn(target, key)) return undefined;
      target = (target as Record<string, unknown>)[key];
    }
    return target;
  }
}

/** The schema's type, or the one its keywords imply; with several, the first that is not null. */
function typeOf(schema: SchemaObject): string | undefined {
  const declared = Array.isArray(schema.type) ? (schema.type.find((type) => type !== 'null') ?? schema.type[0]) : schema.type;
  if (typeof declared === 'string') return declared;
  if ('properties' in schema || 'required' in schema || 'additionalProperties' in schema || 'minProperties' in schema) return 'object';
  if ('items' in schema || 'prefixItems' in schema || 'minItems' in schema || 'contains' in schema) return 'array';
  if ('minLength' in schema || 'maxLength' in schema || 'format' in schema || 'pattern' in schema) return 'string';
  if ('minimum' in schema || 'maximum' in schema || 'exclusiveMinimum' in schema || 'exclusiveMaximum' in schema || 'multipleOf' in schema) return 'number';
  return undefined;
}

/** The smallest number the bounds allow (1 when it is allowed and nothing is asked), a multiple of `multipleOf` if given. */
function numberIn(schema: SchemaObject, integer: boolean): Made {
  const minimum = finite(schema.minimum);
  const maximum = finite(schema.maximum);
  // draft-07 and 2020-12 give exclusive bounds as numbers.
  const exclusiveMinimum = finite(schema.exclusiveMinimum);
  const exclusiveMaximum = finite(schema.exclusiveMaximum);
  const step = finite(schema.multipleOf) ?? (integer ? 1 : undefined);
  const above = (value: number) =>
    (minimum === undefined || value >= minimum) && (exclusiveMinimum === undefined || value > exclusiveMinimum);
  const below = (value: number) =>
    (maximum === undefined || value <= maximum) && (exclusiveMaximum === undefined || value < exclusiveMaximum);
  const fits = (value: number) => above(value) && below(value) && (!integer || Number.isInteger(value));
  if (fits(1) && (step === undefined || step === 1)) return 1;
  const low = Math.max(minimum ?? Number.NEGATIVE_INFINITY, exclusiveMinimum ?? Number.NEGATIVE_INFINITY);
  const high = Math.min(maximum ?? Number.POSITIVE_INFINITY, exclusiveMaximum ?? Number.POSITIVE_INFINITY);
  const candidates: number[] = [];
  if (step !== undefined && step > 0) {
    const from = Number.isFinite(low) ? Math.ceil(low / step) * step : Number.isFinite(high) ? Math.floor(high / step) * step : 0;
    candidates.push(from, from + step, from - step, 0);
  } else {
    if (Number.isFinite(low) && Number.isFinite(high)) candidates.push((low + high) / 2);
    if (Number.isFinite(low)) candidates.push(low, low + 1);
    if (Number.isFinite(high)) candidates.push(high, high - 1);
    candidates.push(0);
  }
  return candidates.find((candidate) => Number.isFinite(candidate) && fits(candidate)) ?? GIVE_UP;
}

/** Two schemas' keywords as one: properties merged, required joined, otherwise the first one's. */
function merge(first: SchemaObject, second: SchemaObject): SchemaObject {
  const merged: SchemaObject = { ...second, ...first };
  if (isObject(first.properties) || isObject(second.properties)) {
    merged.properties = { ...(isObject(second.properties) ? second.properties : {}), ...(isObject(first.properties) ? first.properties : {}) };
  }
  if (Array.isArray(first.required) || Array.isArray(second.required)) {
    merged.required = [...new Set([...(Array.isArray(first.required) ? first.required : []), ...(Array.isArray(second.required) ? second.required : [])])];
  }
  return merged;
}

/**
 * Candidate example payloads for `schema`, best first: its own `examples[0]`, then one made with
 * every declared property, then one with only the required ones. Empty when the schema has no
 * examples and asks for more than EXAMPLE_LIMITS, or for nothing at all.
 */
export function exampleCandidates(schema: unknown): unknown[] {
  const candidates: unknown[] = [];
  const own = isObject(schema) && Array.isArray(schema.examples) && schema.examples.length > 0 ? schema.examples : undefined;
  if (own) candidates.push(structuredClone(own[0]));
  // Made without the top-level examples (already first), resolving `$ref`s in the whole schema.
  const body = own ? (({ examples: _examples, ...rest }: SchemaObject) => rest)(schema as SchemaObject) : schema;
  for (const withOptional of [true, false]) {
    const made = new ExampleMaker(schema, withOptional).make(body, 0);
    // At the top, a schema that says nothing of the payload's shape gets an empty object.
    const value = made === null && typeOf(isObject(schema) ? schema : {}) === undefined ? {} : made;
    if (value !== GIVE_UP && !candidates.some((candidate) => JSON.stringify(candidate) === JSON.stringify(value))) candidates.push(value);
  }
  return candidates;
}
