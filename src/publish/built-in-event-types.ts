import { BUILT_IN_EVENT_TYPES, BUILT_IN_EVENT_TYPE_VERSION } from './operational-events.js';

/** A built-in `hooklane.*` event type as `eventTypes` and the catalog show it: the same for every tenant. */
export interface BuiltInEventType {
  /** Fixed, shaped like every id and sorting below every stored one: listed last, newest first. */
  id: string;
  name: string;
  description: string;
  /** The JSON Schema (draft 2020-12) of the payload that operational-events.ts publishes. */
  schema: Record<string, unknown>;
  version: number;
}

const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema';
const ID = { type: 'string', minLength: 1 } as const;
const URL = { type: 'string', format: 'uri' } as const;

/** The built-in event types, in the order of their ids. */
export const BUILT_IN_EVENT_TYPE_LIST: readonly BuiltInEventType[] = [
  {
    id: 'etp_00000000000000000000000000000003',
    name: BUILT_IN_EVENT_TYPES.subscriptionDisabled,
    description: 'A subscription was disabled: by the tenant (MANUAL), after a 410 Gone (GONE), or because every delivery kept failing (FAILING).',
    schema: {
      $schema: DRAFT_2020_12,
      type: 'object',
      required: ['subscriptionId', 'url', 'reason', 'failingSince'],
      additionalProperties: false,
      properties: {
        subscriptionId: ID,
        url: URL,
        reason: { enum: ['MANUAL', 'GONE', 'FAILING'] },
        failingSince: { type: ['string', 'null'], format: 'date-time', description: 'Since when every attempt had failed; null when it was healthy.' },
      },
      examples: [{ subscriptionId: 'sub_0190c5e0a4b87c3d9e1f2a3b4c5d6e7f', url: 'https://example.com/webhooks', reason: 'FAILING', failingSince: '2026-11-21T08:00:00.000Z' }],
    },
    version: BUILT_IN_EVENT_TYPE_VERSION,
  },
  {
    id: 'etp_00000000000000000000000000000002',
    name: BUILT_IN_EVENT_TYPES.subscriptionEnabled,
    description: 'A disabled subscription was enabled again; its held deliveries are being sent in publish order.',
    schema: {
      $schema: DRAFT_2020_12,
      type: 'object',
      required: ['subscriptionId', 'url', 'releasedDeliveries'],
      additionalProperties: false,
      properties: {
        subscriptionId: ID,
        url: URL,
        releasedDeliveries: { type: 'integer', minimum: 0, description: 'How many held deliveries are now being sent.' },
      },
      examples: [{ subscriptionId: 'sub_0190c5e0a4b87c3d9e1f2a3b4c5d6e7f', url: 'https://example.com/webhooks', releasedDeliveries: 12 }],
    },
    version: BUILT_IN_EVENT_TYPE_VERSION,
  },
  {
    id: 'etp_00000000000000000000000000000001',
    name: BUILT_IN_EVENT_TYPES.deliveryFailed,
    description: 'A delivery spent its retry schedule, or its receiver answered 410 Gone: it is FAILED.',
    schema: {
      $schema: DRAFT_2020_12,
      type: 'object',
      required: ['deliveryId', 'eventId', 'eventType', 'subscriptionId', 'url', 'attempts', 'lastStatusCode', 'lastError'],
      additionalProperties: false,
      properties: {
        deliveryId: ID,
        eventId: ID,
        eventType: { type: 'string', minLength: 1, description: 'The failed event\'s type.' },
        subscriptionId: ID,
        url: URL,
        attempts: { type: 'integer', minimum: 1 },
        lastStatusCode: { type: ['integer', 'null'], description: 'The last answer\'s HTTP status; null when none came.' },
        lastError: { type: ['string', 'null'], description: 'Why the last attempt failed.' },
      },
      examples: [
        {
          deliveryId: 'dlv_0190c5e0a4b87c3d9e1f2a3b4c5d6e7f',
          eventId: 'evt_0190c5e0a4b87c3d9e1f2a3b4c5d6e7f',
          eventType: 'invoice.paid',
          subscriptionId: 'sub_0190c5e0a4b87c3d9e1f2a3b4c5d6e7f',
          url: 'https://example.com/webhooks',
          attempts: 8,
          lastStatusCode: 500,
          lastError: 'HTTP 500 (not 2xx)',
        },
      ],
    },
    version: BUILT_IN_EVENT_TYPE_VERSION,
  },
];

const byName = new Map(BUILT_IN_EVENT_TYPE_LIST.map((eventType) => [eventType.name, eventType]));

/** The built-in event type of that name, if there is one. */
export function builtInEventType(name: string): BuiltInEventType | undefined {
  return byName.get(name);
}
