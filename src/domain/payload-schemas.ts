import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { BadUserInputError } from '../errors.js';
import { BoundedMap } from '../bounded-map.js';

const MAX_CACHED_VALIDATORS = 1_000;

/** Compiles each event type's JSON Schema once and checks payloads against it. */
export class PayloadSchemas {
  // Draft-07 unless the schema names 2020-12 in `$schema`: each ajv instance knows one meta-schema.
  private readonly draft07 = new Ajv({ allErrors: false, strict: false });
  private readonly draft2020 = new Ajv2020({ allErrors: false, strict: false });

  private compile(schema: unknown): ValidateFunction {
    const declared = typeof schema === 'object' && schema !== null ? (schema as { $schema?: unknown }).$schema : undefined;
    const ajv = typeof declared === 'string' && declared.includes('2020-12') ? this.draft2020 : this.draft07;
    return ajv.compile(schema as object);
  }
  private readonly validators = new BoundedMap<string, ValidateFunction>(MAX_CACHED_VALIDATORS, 'oldest');

  /** Throws BAD_USER_INPUT when `schema` is not a usable JSON Schema. */
  assertValidSchema(schema: unknown): void {
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      if (typeof schema !== 'boolean') throw new BadUserInputError('schema must be a JSON Schema object', 'schema');
    }
    try {
      this.compile(schema);
    } catch (error) {
      throw new BadUserInputError(`schema is not a valid JSON Schema: ${(error as Error).message}`, 'schema');
    }
  }

  /** Throws BAD_USER_INPUT listing what is wrong when the payload fails the event type's schema. */
  assertPayload(eventType: { id: string; name: string; schema: unknown }, payload: unknown, field = 'payload'): void {
    if (eventType.schema === null || eventType.schema === undefined) return;
    const validate = this.validatorFor(eventType.id, eventType.schema);
    if (validate(payload)) return;
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
    throw new BadUserInputError(
      `payload does not match the schema of ${eventType.name}: ${problems.join('; ')}`,
      field,
      problems,
    );
  }

  private validatorFor(id: string, schema: unknown): ValidateFunction {
    const cached = this.validators.get(id);
    if (cached) return cached;
    const validate = this.compile(schema);
    this.validators.set(id, validate);
    return validate;
  }
}
