import { Ajv, type ErrorObject, type FuncKeywordDefinition, type Options, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { BadUserInputError, QuotaExceededError } from '../errors.js';
import { BoundedMap } from '../bounded-map.js';
import { LinearPatterns, linearEngine } from './linear-patterns.js';
import { nestingDepth, SchemaAnalysis, type SchemaLimits } from './schema-analysis.js';

/** The limits on a tenant's JSON Schema; docs/security.md explains them. */
export const SCHEMA_LIMITS: SchemaLimits = {
  bytes: 64 * 1024,
  depth: 32,
  subschemas: 500,
  nestedReferences: 32,
  patternLength: 1_000,
  patternCharacters: 4_000,
  patternInstructions: 2_000,
};

const MAX_CACHED_VALIDATORS = 1_000;

/**
 * How much of the API's thread a tenant's schema compiles may take. A compile within SCHEMA_LIMITS
 * holds the thread for a fraction of a second and cannot be split, so one tenant compiling in a
 * loop (creating or changing event types, or publishing to many schemas) would hold up every other
 * tenant's requests: each tenant's compiles draw on a budget of milliseconds that refills at
 * `msPerSecond`; once it is spent, the next compile is refused with QUOTA_EXCEEDED and retryAfter.
 */
export const SCHEMA_COMPILE_BUDGET = { msPerSecond: 50, burstMs: 500 };

const MAX_TRACKED_TENANTS = 10_000;

/** Per tenant, the compile time (ms) it may still spend; a compile is charged once it is done, so a balance may go below zero. */
export class CompileBudget {
  private readonly balances = new BoundedMap<string, { ms: number; at: number }>(MAX_TRACKED_TENANTS, 'oldest');

  constructor(
    private readonly budget: { msPerSecond: number; burstMs: number } = SCHEMA_COMPILE_BUDGET,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Refuses, with QUOTA_EXCEEDED and retryAfter, while the tenant's balance is spent. */
  assertAvailable(tenantId: string): void {
    const balance = this.balance(tenantId);
    if (balance > 0) return;
    throw new QuotaExceededError(
      `Schema compilation quota exceeded: a tenant's schemas may take ${this.budget.msPerSecond} ms of compiling per second ` +
        `(burst ${this.budget.burstMs} ms); smaller schemas compile faster`,
      Math.max(1, Math.ceil((1 - balance) / this.budget.msPerSecond)),
    );
  }

  charge(tenantId: string, ms: number): void {
    this.balances.set(tenantId, { ms: this.balance(tenantId) - ms, at: this.now() });
  }

  private balance(tenantId: string): number {
    const entry = this.balances.get(tenantId);
    if (!entry) return this.budget.burstMs;
    return Math.min(this.budget.burstMs, entry.ms + ((this.now() - entry.at) / 1000) * this.budget.msPerSecond);
  }
}

type Draft = 'draft-07' | '2020-12';

const META_SCHEMAS: Record<string, Draft> = {
  'http://json-schema.org/draft-07/schema': 'draft-07',
  'https://json-schema.org/draft/2020-12/schema': '2020-12',
};

// `strict: false` also keeps ajv from testing patterns against property names with a native
// RegExp while compiling. `format` is an annotation: no tenant-defined format, no format regex.
const COMMON_OPTIONS = { strict: false, allErrors: false, validateFormats: false, logger: false } satisfies Options;

/**
 * `uniqueItems` by each item's canonical JSON (keys sorted) in a Map: linear in the array, where
 * ajv's own pairwise deep comparison is quadratic.
 */
function uniqueItemsKeyword(): FuncKeywordDefinition {
  const validate = Object.assign(
    (unique: boolean, items: unknown[]): boolean => {
      if (!unique) return true;
      const seen = new Map<string, number>();
      for (const [index, item] of items.entries()) {
        const key = canonicalJson(item);
        const first = seen.get(key);
        if (first !== undefined) {
          validate.errors = [{ keyword: 'uniqueItems', message: `must NOT have duplicate items (items ## ${first} and ${index} are identical)`, params: { i: index, j: first } }];
          return false;
        }
        seen.set(key, index);
      }
      return true;
    },
    { errors: undefined as Partial<ErrorObject>[] | undefined },
  );
  return { keyword: 'uniqueItems', type: 'array', schemaType: 'boolean', validate };
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) return inner;
    const object = inner as Record<string, unknown>;
    return Object.fromEntries(Object.keys(object).sort().map((key) => [key, object[key]]));
  });
}

/** A fresh ajv for one tenant schema: no `$id` or `$ref` of another schema can reach it. */
function isolatedAjv(draft: Draft, patterns: LinearPatterns): Ajv {
  // No meta-schemas inside (they are checked beforehand), so a `$ref` can only name this schema.
  // ajv's optimizer passes cost more compile time than they save on validators this small.
  const options: Options = { ...COMMON_OPTIONS, meta: false, validateSchema: false, code: { regExp: patterns.engine, optimize: false } };
  const ajv = draft === '2020-12' ? new Ajv2020(options) : new Ajv(options);
  ajv.removeKeyword('uniqueItems');
  ajv.addKeyword(uniqueItemsKeyword());
  return ajv;
}

interface CompiledSchema {
  /** The plain JSON the validator was compiled from. */
  schema: unknown;
  text: string;
  validate: ValidateFunction;
}

/**
 * Checks tenants' JSON Schemas and payloads against them. Each schema is compiled on its own, with
 * its patterns on a linear-time engine and its size and cost bounded (SCHEMA_LIMITS); compiled
 * validators are kept per event type, at most `maxCachedValidators` of them.
 */
export class PayloadSchemas {
  private readonly validators: BoundedMap<string, CompiledSchema>;
  private readonly metaValidators = new Map<Draft, ValidateFunction>();

  private readonly compileBudget: CompileBudget;

  constructor(options: { maxCachedValidators?: number; compileBudget?: CompileBudget } = {}) {
    this.validators = new BoundedMap(options.maxCachedValidators ?? MAX_CACHED_VALIDATORS, 'oldest');
    this.compileBudget = options.compileBudget ?? new CompileBudget();
  }

  get cachedValidators(): number {
    return this.validators.size;
  }

  /**
   * Checks a tenant's schema and returns the plain JSON copy to store; BAD_USER_INPUT if unusable.
   * `tenantId`: whose compile budget pays for it (QUOTA_EXCEEDED once spent); omitted only where
   * no tenant asks.
   */
  checkedSchema(input: unknown, tenantId?: string): unknown {
    return this.compileFor(tenantId, input).schema;
  }

  /**
   * Throws BAD_USER_INPUT listing what is wrong when the payload fails the event type's schema.
   * A schema not compiled yet is compiled on `tenantId`'s budget, as by checkedSchema.
   */
  assertPayload(eventType: { id: string; name: string; schema: unknown }, payload: unknown, field = 'payload', tenantId?: string): void {
    if (eventType.schema === null || eventType.schema === undefined) return;
    const validate = this.validatorFor(eventType, field, tenantId);
    if (validate(payload)) return;
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
    throw new BadUserInputError(
      `payload does not match the schema of ${eventType.name}: ${problems.join('; ')}`,
      field,
      problems,
    );
  }

  private validatorFor(eventType: { id: string; name: string; schema: unknown }, field: string, tenantId: string | undefined): ValidateFunction {
    const cached = this.validators.get(eventType.id);
    // Keyed by the schema itself too, so that a changed schema is never checked by its old validator.
    if (cached && (cached.schema === eventType.schema || cached.text === JSON.stringify(eventType.schema))) return cached.validate;
    let compiled: CompiledSchema;
    try {
      compiled = this.compileFor(tenantId, eventType.schema);
    } catch (error) {
      if (!(error instanceof BadUserInputError)) throw error;
      throw new BadUserInputError(`the schema of ${eventType.name} cannot be used: ${error.message}`, field);
    }
    this.validators.set(eventType.id, { ...compiled, schema: eventType.schema });
    return compiled.validate;
  }

  private compileFor(tenantId: string | undefined, input: unknown): CompiledSchema {
    if (tenantId === undefined) return this.compile(input);
    this.compileBudget.assertAvailable(tenantId);
    const started = performance.now();
    try {
      return this.compile(input);
    } finally {
      this.compileBudget.charge(tenantId, performance.now() - started);
    }
  }

  private compile(input: unknown): CompiledSchema {
    let text: string | undefined;
    try {
      text = JSON.stringify(input);
    } catch {
      throw new BadUserInputError('schema must be JSON that nests less deeply', 'schema');
    }
    if (text === undefined) throw new BadUserInputError('schema must be a JSON Schema object', 'schema');
    if (Buffer.byteLength(text) > SCHEMA_LIMITS.bytes) {
      throw new BadUserInputError(`schema must be at most ${SCHEMA_LIMITS.bytes} bytes of JSON`, 'schema');
    }
    const schema = JSON.parse(text) as unknown;
    if (typeof schema !== 'boolean' && (typeof schema !== 'object' || schema === null || Array.isArray(schema))) {
      throw new BadUserInputError('schema must be a JSON Schema object', 'schema');
    }
    if (nestingDepth(schema, SCHEMA_LIMITS.depth) > SCHEMA_LIMITS.depth) {
      throw new BadUserInputError(`schema may nest JSON objects and arrays at most ${SCHEMA_LIMITS.depth} deep`, 'schema');
    }
    const draft = this.draftOf(schema);
    if (typeof schema === 'object') this.assertMetaValid(schema, draft);
    const patterns = new LinearPatterns({ length: SCHEMA_LIMITS.patternLength, characters: SCHEMA_LIMITS.patternCharacters });
    new SchemaAnalysis(schema, patterns, SCHEMA_LIMITS).run();
    try {
      return { schema, text, validate: isolatedAjv(draft, patterns).compile(schema) };
    } catch (error) {
      if (error instanceof BadUserInputError) throw error;
      throw new BadUserInputError(`schema is not a valid JSON Schema: ${(error as Error).message}`, 'schema');
    }
  }

  private draftOf(schema: unknown): Draft {
    const declared = typeof schema === 'object' && schema !== null ? (schema as { $schema?: unknown }).$schema : undefined;
    if (declared === undefined) return 'draft-07';
    const draft = typeof declared === 'string' ? META_SCHEMAS[declared.replace(/#$/, '')] : undefined;
    if (!draft) {
      throw new BadUserInputError(`schema $schema must name draft-07 or 2020-12: ${Object.keys(META_SCHEMAS).join(' or ')}`, 'schema');
    }
    return draft;
  }

  private assertMetaValid(schema: object, draft: Draft): void {
    const validate = this.metaValidator(draft);
    if (validate(schema)) return;
    const problems = (validate.errors ?? []).map((e) => `schema${e.instancePath} ${e.message ?? 'is invalid'}`).join(', ');
    throw new BadUserInputError(`schema is not a valid JSON Schema: ${problems}`, 'schema');
  }

  /** The meta-schema's validator, from an ajv that compiles nothing but its meta-schemas. */
  private metaValidator(draft: Draft): ValidateFunction {
    let validate = this.metaValidators.get(draft);
    if (!validate) {
      const options: Options = { ...COMMON_OPTIONS, code: { regExp: linearEngine(), optimize: false } };
      const ajv = draft === '2020-12' ? new Ajv2020(options) : new Ajv(options);
      const id = Object.keys(META_SCHEMAS).find((key) => META_SCHEMAS[key] === draft)!;
      validate = ajv.getSchema(id)!;
      this.metaValidators.set(draft, validate);
    }
    return validate;
  }
}
