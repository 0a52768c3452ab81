import { newId } from '../ids.js';
import { BadUserInputError } from '../errors.js';
import { enqueueJobs } from '../db/jobs.js';
import type { EventRow } from '../db/schema.js';
import type { TenantScope } from '../db/tenant-scope.js';
import { MAX_IDEMPOTENCY_KEY_LENGTH, MAX_PAYLOAD_BYTES, requireEventTypeName } from './input-rules.js';
import type { PayloadSchemas } from './payload-schemas.js';

export interface PublishRequest {
  eventType: string;
  payload: unknown;
  idempotencyKey?: string | null;
}

export interface PublishResult {
  event: EventRow;
  /** False when the idempotency key returned an earlier event. */
  created: boolean;
}

/**
 * The body every delivery of the event sends, byte for byte, and the bytes its signatures cover.
 * Built once at publish time so that attempts sign and send stored bytes.
 */
export function deliveryBody(eventType: string, createdAt: Date, payload: unknown): string {
  return `{"type":${JSON.stringify(eventType)},"timestamp":${JSON.stringify(createdAt.toISOString())},"data":${JSON.stringify(payload)}}`;
}

/**
 * Checks the event, then writes it, one delivery per matching enabled subscription and their
 * jobs in ONE transaction: once this returns, the event cannot be lost; if it throws, nothing was written.
 */
export async function publishEvent(scope: TenantScope, schemas: PayloadSchemas, request: PublishRequest): Promise<PublishResult> {
  const eventTypeName = requireEventTypeName(request.eventType, 'eventType');
  const idempotencyKey = request.idempotencyKey ?? null;
  if (idempotencyKey !== null && (idempotencyKey.length === 0 || idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
    throw new BadUserInputError(`idempotencyKey must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`, 'idempotencyKey');
  }
  if (request.payload === undefined) throw new BadUserInputError('payload is required', 'payload');

  if (idempotencyKey !== null) {
    const earlier = await scope.events.findByIdempotencyKey(idempotencyKey);
    if (earlier) return { event: earlier, created: false };
  }

  const eventType = await scope.eventTypes.findByName(eventTypeName);
  if (!eventType) throw new BadUserInputError(`unknown event type ${JSON.stringify(eventTypeName)}: create it first`, 'eventType');
  schemas.assertPayload(eventType, request.payload);

  const createdAt = new Date();
  const body = deliveryBody(eventTypeName, createdAt, request.payload);
  if (Buffer.byteLength(body) > MAX_PAYLOAD_BYTES) {
    throw new BadUserInputError(`payload must be at most ${MAX_PAYLOAD_BYTES} bytes of JSON`, 'payload');
  }

  return scope.transaction(async (tx, executor) => {
    const event = await tx.events.insert({ id: newId('event'), eventType: eventTypeName, body, idempotencyKey, createdAt });
    if (!event) {
      // A concurrent publish with the same key won the race: return its event.
      const winner = await tx.events.findByIdempotencyKey(idempotencyKey!);
      return { event: winner!, created: false };
    }
    const targets = await tx.subscriptions.matching(eventTypeName);
    const deliveries = await tx.deliveries.insertForEvent(event.id, targets.map((target) => target.id));
    await enqueueJobs(
      executor,
      deliveries.map((delivery) => ({ task: 'deliver' as const, payload: { tenantId: scope.tenantId, deliveryId: delivery.id } })),
    );
    return { event, created: true };
  });
}
