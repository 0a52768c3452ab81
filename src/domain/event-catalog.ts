import { createHash } from 'node:crypto';
import type { EventExamples } from './event-examples.js';
import { childrenOf } from './schema-analysis.js';

/** An event type as the catalog shows it. */
export interface CatalogEventType {
  id: string;
  name: string;
  description: string | null;
  schema: unknown;
  version: number;
  deprecated: boolean;
  builtIn: boolean;
}

/** The `timestamp` of the examples: a fixed time, so that the same event types give the same document. */
const EXAMPLE_TIMESTAMP = '2026-01-01T12:00:00.000Z';
const SCHEMAS_POINTER = '#/components/schemas/';

const HEADER_PARAMETERS = {
  WebhookId: {
    name: 'webhook-id',
    in: 'header',
    required: true,
    description: 'The event id (`evt_…`): the same on every attempt and every replay of the event. Deduplicate on it.',
    schema: { type: 'string' },
  },
  WebhookTimestamp: {
    name: 'webhook-timestamp',
    in: 'header',
    required: true,
    description: 'The time of this attempt in Unix seconds. Refuse one more than a few minutes from your clock.',
    schema: { type: 'string', pattern: '^[0-9]+$' },
  },
  WebhookSignature: {
    name: 'webhook-signature',
    in: 'header',
    required: true,
    description:
      'Space-separated signatures (Standard Webhooks 1.0): `v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">` ' +
      'keyed with the subscription\'s secret, and `v1a,<base64 Ed25519>` when the subscription signs with Ed25519. Verify over the raw body.',
    schema: { type: 'string' },
  },
} as const;

/**
 * A copy of a tenant's schema placed at `#/components/schemas/<name>`: its local `$ref`s (`#`,
 * `#/…`), which point into the schema itself, are made to point to the same place in the document.
 * Only the schema's subschemas are walked: values (`const`, `examples`, …) are left as they are.
 */
function placedSchema(schema: unknown, name: string): unknown {
  const base = `${SCHEMAS_POINTER}${name}`;
  const copy = structuredClone(schema ?? {});
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return;
    const record = node as Record<string, unknown>;
    if (typeof record.$ref === 'string' && (record.$ref === '#' || record.$ref.startsWith('#/'))) {
      record.$ref = `${base}${record.$ref.slice(1)}`;
    }
    for (const [, child] of childrenOf(record, '', true)) visit(child);
  };
  visit(copy);
  return copy;
}

/**
 * The tenant's event catalog: an OpenAPI 3.1 document with one `webhooks` entry per event type,
 * each a POST whose body is the Standard Webhooks envelope (`type`, `timestamp`, `data`) with the
 * event type's JSON Schema as `data`, an example, and the signature headers. Receivers generate
 * their types from it. `info.version` changes whenever the document does.
 */
export function eventCatalog(tenant: { id: string; name: string }, eventTypes: readonly CatalogEventType[], examples: EventExamples): Record<string, unknown> {
  const sorted = [...eventTypes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const schemas: Record<string, unknown> = {};
  const webhooks: Record<string, unknown> = {};
  for (const eventType of sorted) {
    schemas[eventType.name] = placedSchema(eventType.schema, eventType.name);
    const example = examples.exampleFor(eventType, tenant.id);
    const media: Record<string, unknown> = {
      schema: {
        type: 'object',
        required: ['type', 'timestamp', 'data'],
        properties: {
          type: { const: eventType.name },
          timestamp: { type: 'string', format: 'date-time', description: 'When the event was published.' },
          data: { $ref: `${SCHEMAS_POINTER}${eventType.name}` },
        },
      },
    };
    if (example) media.example = { type: eventType.name, timestamp: EXAMPLE_TIMESTAMP, data: example.payload };
    webhooks[eventType.name] = {
      post: {
        operationId: eventType.name,
        summary: eventType.name,
        ...(eventType.description ? { description: eventType.description } : {}),
        ...(eventType.deprecated ? { deprecated: true } : {}),
        tags: [eventType.builtIn ? 'built-in' : 'events'],
        'x-hooklane-event-type-version': eventType.version,
        parameters: Object.keys(HEADER_PARAMETERS).map((key) => ({ $ref: `#/components/parameters/${key}` })),
        requestBody: { required: true, content: { 'application/json': media } },
        responses: {
          '2XX': { description: 'Received. Anything else, or no answer within the delivery timeout, is retried.' },
          '410': { description: 'Gone: the delivery fails at once and the subscription is disabled.' },
        },
      },
    };
  }
  const content = { webhooks, components: { schemas, parameters: HEADER_PARAMETERS } };
  const version = createHash('sha256').update(JSON.stringify(content)).digest('hex').slice(0, 16);
  return {
    openapi: '3.1.0',
    info: {
      title: `${tenant.name} webhooks`,
      version,
      description:
        'The events this tenant sends by webhook: each is a POST of `{"type","timestamp","data"}` signed as Standard Webhooks 1.0 ' +
        '(https://www.standardwebhooks.com/). Verify the signature over the raw body, deduplicate on `webhook-id`, answer 2xx at once.',
    },
    tags: [
      { name: 'events', description: "The tenant's own event types." },
      { name: 'built-in', description: 'Hooklane\'s operational events about the tenant\'s subscriptions and deliveries.' },
    ],
    ...content,
  };
}
