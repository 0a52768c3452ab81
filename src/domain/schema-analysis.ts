import { BadUserInputError } from '../errors.js';
import type { LinearPatterns } from './linear-patterns.js';

/** How large a tenant's schema may be, and how much work it may ask of the API for each payload. */
export interface SchemaLimits {
  /** UTF-8 bytes of the schema's JSON. */
  bytes: number;
  /** Nesting of JSON objects and arrays. */
  depth: number;
  /** Subschemas applied to a payload, a `$ref` counting as the whole schema it points to. */
  subschemas: number;
  /** `$ref`s followed inside one another. */
  nestedReferences: number;
  /** Characters in one pattern. */
  patternLength: number;
  /** Characters in all the distinct patterns of a schema. */
  patternCharacters: number;
  /** RE2 instructions of all the patterns applied to a payload, counted like `subschemas`. */
  patternInstructions: number;
}

type SchemaObject = Record<string, unknown>;

interface Cost {
  subschemas: number;
  patternInstructions: number;
}

// Keywords of draft-07 and 2020-12 whose value is one subschema, a list of them or a map of them.
const ONE_SUBSCHEMA = [
  'additionalItems', 'additionalProperties', 'contains', 'contentSchema', 'else', 'if', 'items', 'not',
  'propertyNames', 'then', 'unevaluatedItems', 'unevaluatedProperties',
];
const SUBSCHEMA_LIST = ['allOf', 'anyOf', 'items', 'oneOf', 'prefixItems'];
const SUBSCHEMA_MAP = ['dependencies', 'dependentSchemas', 'patternProperties', 'properties'];
// Only applied where a `$ref` points into them.
const DEFINITIONS = ['$defs', 'definitions'];

function isSchemaObject(value: unknown): value is SchemaObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSubschema(value: unknown): boolean {
  return isSchemaObject(value) || typeof value === 'boolean';
}

function pointerToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The subschemas directly inside `schema`, with their JSON pointers. */
export function childrenOf(schema: SchemaObject, pointer: string, withDefinitions: boolean): [string, unknown][] {
  const children: [string, unknown][] = [];
  for (const keyword of ONE_SUBSCHEMA) {
    if (isSubschema(schema[keyword])) children.push([`${pointer}/${keyword}`, schema[keyword]]);
  }
  for (const keyword of SUBSCHEMA_LIST) {
    const list = schema[keyword];
    if (Array.isArray(list)) list.forEach((child, index) => isSubschema(child) && children.push([`${pointer}/${keyword}/${index}`, child]));
  }
  for (const keyword of withDefinitions ? [...SUBSCHEMA_MAP, ...DEFINITIONS] : SUBSCHEMA_MAP) {
    const map = schema[keyword];
    if (!isSchemaObject(map)) continue;
    for (const [key, child] of Object.entries(map)) {
      if (isSubschema(child)) children.push([`${pointer}/${keyword}/${pointerToken(key)}`, child]);
    }
  }
  return children;
}

/** How deeply `value` nests, stopping once past `limit`. */
export function nestingDepth(value: unknown, limit: number, depth = 0): number {
  if (typeof value !== 'object' || value === null) return depth;
  if (depth > limit) return depth;
  let deepest = depth + 1;
  for (const inner of Object.values(value)) deepest = Math.max(deepest, nestingDepth(inner, limit, depth + 1));
  return deepest;
}

/**
 * Reads a tenant's (meta-schema-valid) schema before ajv compiles it: every pattern compiled by
 * RE2 with the JSON pointer of where it is, every `$ref` resolved inside the schema itself, and the
 * work a payload check may cost measured with each `$ref` counted as what it points to. Refuses,
 * with BAD_USER_INPUT, a `$ref` that leaves the schema, a recursive one, an embedded `$id` (a
 * schema naming another) and a schema over the limits.
 */
export class SchemaAnalysis {
  private readonly pointers = new Map<SchemaObject, string>();
  private readonly anchors = new Map<string, SchemaObject>();
  private readonly costs = new Map<SchemaObject, Cost>();
  private readonly expanding = new Set<SchemaObject>();
  private rootId: string | undefined;

  constructor(
    private readonly root: unknown,
    private readonly patterns: LinearPatterns,
    private readonly limits: SchemaLimits,
  ) {}

  run(): void {
    if (!isSchemaObject(this.root)) return;
    const id = this.root.$id;
    if (typeof id === 'string' && !id.startsWith('#')) this.rootId = id.split('#')[0];
    this.index(this.root, '');
    this.cost(this.root, 0);
  }

  private refuse(pointer: string, problem: string): never {
    throw new BadUserInputError(`schema at ${pointer || '/'}: ${problem}`, 'schema');
  }

  /** Records where each subschema is, its anchors, and compiles its patterns. */
  private index(schema: SchemaObject, pointer: string): void {
    if (this.pointers.has(schema)) return;
    this.pointers.set(schema, pointer);
    const id = schema.$id;
    if (typeof id === 'string' && pointer !== '') {
      // Draft-07 names an anchor with `$id: "#name"`; any other `$id` below the root would start
      // a schema of its own, which `$ref`s elsewhere could then reach by that name.
      if (id.startsWith('#')) this.addAnchor(id.slice(1), schema, pointer);
      else this.refuse(pointer, '$id is allowed only at the root of a schema (use $anchor or definitions to name a part)');
    } else if (typeof id === 'string' && id.startsWith('#')) {
      this.addAnchor(id.slice(1), schema, pointer);
    }
    for (const keyword of ['$anchor', '$dynamicAnchor']) {
      if (typeof schema[keyword] === 'string') this.addAnchor(schema[keyword], schema, pointer);
    }
    for (const keyword of ['$dynamicRef', '$recursiveRef']) {
      if (keyword in schema) this.refuse(pointer, `${keyword} is not supported; use $ref`);
    }
    if (typeof schema.pattern === 'string') this.patterns.compile(schema.pattern, `${pointer}/pattern`);
    if (isSchemaObject(schema.patternProperties)) {
      for (const key of Object.keys(schema.patternProperties)) this.patterns.compile(key, `${pointer}/patternProperties/${pointerToken(key)}`);
    }
    for (const [childPointer, child] of childrenOf(schema, pointer, true)) {
      if (isSchemaObject(child)) this.index(child, childPointer);
    }
  }

  private addAnchor(name: string, schema: SchemaObject, pointer: string): void {
    const known = this.anchors.get(name);
    if (known && known !== schema) this.refuse(pointer, `anchor ${JSON.stringify(name)} is defined more than once`);
    this.anchors.set(name, schema);
  }

  /** The subschema that `ref` (found at `pointer`) names, which must be inside this schema. */
  private resolve(ref: string, pointer: string): unknown {
    const unresolved = () =>
      this.refuse(pointer, `$ref ${JSON.stringify(ref)} does not resolve inside this schema: a $ref may point only into the schema that holds it`);
    const hash = ref.indexOf('#');
    const uri = hash === -1 ? ref : ref.slice(0, hash);
    if (uri !== '' && uri !== this.rootId) return unresolved();
    let fragment: string;
    try {
      fragment = decodeURIComponent(hash === -1 ? '' : ref.slice(hash + 1));
    } catch {
      return unresolved();
    }
    if (fragment === '') return this.root;
    if (!fragment.startsWith('/')) return this.anchors.get(fragment) ?? unresolved();
    let target: unknown = this.root;
    for (const token of fragment.slice(1).split('/')) {
      const key = token.replace(/~1/g, '/').replace(/~0/g, '~');
      if (Array.isArray(target) && /^(0|[1-9][0-9]*)$/.test(key) && Number(key) < target.length) target = target[Number(key)];
      else if (isSchemaObject(target) && Object.hasOwn(target, key)) target = target[key];
      else return unresolved();
    }
    if (!isSubschema(target)) this.refuse(pointer, `$ref ${JSON.stringify(ref)} does not point to a schema`);
    if (isSchemaObject(target)) this.index(target, fragment);
    return target;
  }

  /** The work of applying `schema` to one value, a `$ref` counting as what it points to. */
  private cost(schema: unknown, nestedReferences: number): Cost {
    if (!isSchemaObject(schema)) return { subschemas: 1, patternInstructions: 0 };
    const known = this.costs.get(schema);
    if (known) return known;
    const pointer = this.pointers.get(schema)!;
    this.expanding.add(schema);
    const cost: Cost = { subschemas: 1, patternInstructions: 0 };
    const add = (part: Cost) => {
      cost.subschemas += part.subschemas;
      cost.patternInstructions += part.patternInstructions;
    };
    if (typeof schema.pattern === 'string') cost.patternInstructions += this.patterns.instructions(schema.pattern, `${pointer}/pattern`);
    if (isSchemaObject(schema.patternProperties)) {
      for (const key of Object.keys(schema.patternProperties)) {
        cost.patternInstructions += this.patterns.instructions(key, `${pointer}/patternProperties/${pointerToken(key)}`);
      }
    }
    for (const [, child] of childrenOf(schema, pointer, false)) add(this.cost(child, nestedReferences));
    if (typeof schema.$ref === 'string') {
      const target = this.resolve(schema.$ref, pointer);
      if (isSchemaObject(target) && this.expanding.has(target)) {
        this.refuse(pointer, `$ref ${JSON.stringify(schema.$ref)} is recursive, and recursive schemas are not supported`);
      }
      if (nestedReferences >= this.limits.nestedReferences) {
        this.refuse(pointer, `$refs may be followed at most ${this.limits.nestedReferences} deep inside one another`);
      }
      add(this.cost(target, nestedReferences + 1));
    }
    if (cost.subschemas > this.limits.subschemas) {
      this.refuse(pointer, `the schema may apply at most ${this.limits.subschemas} subschemas to a payload, counting each $ref as the schema it points to`);
    }
    if (cost.patternInstructions > this.limits.patternInstructions) {
      this.refuse(
        pointer,
        `the patterns of the schema may compile to at most ${this.limits.patternInstructions} RE2 instructions in all, counting a pattern each time a $ref reaches it`,
      );
    }
    this.expanding.delete(schema);
    this.costs.set(schema, cost);
    return cost;
  }
}
