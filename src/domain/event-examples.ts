import { BoundedMap } from '../bounded-map.js';
import { BadUserInputError } from '../errors.js';
import { exampleCandidates } from './example-payloads.js';
import type { PayloadSchemas } from './payload-schemas.js';

const MAX_CACHED_EXAMPLES = 1_000;

/** An event type as far as its example depends on it. */
export interface ExampleSource {
  id: string;
  name: string;
  schema: unknown;
  version: number;
}

/**
 * Each event type's example payload, for test events and the catalog: its schema's `examples[0]`,
 * else one made from the schema (exampleCandidates), whichever first passes the schema itself.
 * Kept per event type and schema version, at most MAX_CACHED_EXAMPLES of them.
 */
export class EventExamples {
  private readonly examples = new BoundedMap<string, { payload: unknown } | null>(MAX_CACHED_EXAMPLES, 'oldest');

  constructor(private readonly schemas: PayloadSchemas) {}

  /**
   * The example, or undefined when no candidate passes the schema (its patterns, say): the schema
   * needs `examples`. A schema not compiled yet is compiled on `tenantId`'s compile budget.
   */
  exampleFor(eventType: ExampleSource, tenantId?: string): { payload: unknown } | undefined {
    if (eventType.schema === null || eventType.schema === undefined) return { payload: {} };
    const key = `${eventType.id}:${eventType.version}`;
    const known = this.examples.get(key);
    if (known !== undefined) return known ?? undefined;
    const found = this.firstPassing(eventType, tenantId);
    this.examples.set(key, found ?? null);
    return found;
  }

  private firstPassing(eventType: ExampleSource, tenantId: string | undefined): { payload: unknown } | undefined {
    for (const payload of exampleCandidates(eventType.schema)) {
      try {
        this.schemas.assertPayload(eventType, payload, 'payload', tenantId);
        return { payload };
      } catch (error) {
        if (!(error instanceof BadUserInputError)) throw error;
      }
    }
    return undefined;
  }
}
