import { BadUserInputError } from '../errors.js';
import { newId } from '../ids.js';
import { QuotaRefusedError, StaleContextError, type NewEvent, type PublishEventType } from '../db/scoped/events.js';
import type { TenantScope } from '../db/tenant-scope.js';
import { deliveryBody } from './delivery-body.js';
import { estimatedBacklog, fanOutCandidates, fanOutPatterns, writeEvents, type FanOutCandidate, type WrittenEvent } from './fan-out.js';
import type { FirstAttemptHandoff } from './first-attempt-handoff.js';
import { TenantGroups } from './tenant-groups.js';
import { isBuiltInEventType } from './operational-events.js';
import {
  MAX_IDEMPOTENCY_KEY_LENGTH,
  optionalChannels,
  optionalOrderingKey,
  requireEventTypeName,
} from '../domain/input-rules.js';
import type { PayloadSchemas } from '../domain/payload-schemas.js';
import type { Publisher } from './publisher.js';
import type { PublishTrace } from '../observability/trace-context.js';
import { publishBudget, publishQuotaExceeded, type Quotas } from '../tenancy/quotas.js';

export const MAX_EVENTS_PER_BATCH = 1_000;

export interface PublishReads {
  eventTypes: ReadonlyMap<string, PublishEventType>;
  /** With their payload filters compiled: a reused read compiles nothing again. */
  candidates: readonly FanOutCandidate[];
  /** The tenant's publish context version these were read at. */
  version: number;
}

/**
 * What publishing reads before it writes: the event types to check the events against, and the
 * subscriptions fan-out may match, in one statement. A tenant's concurrent publishes share it
 * (TenantGroups): each waits for a read that starts after it arrived, so none misses a
 * subscription or event type created before it was called. Then one statement writes everything
 * (writeEvents).
 */
export function sharedPublishReads(): TenantGroups<readonly string[], PublishReads> {
  return new TenantGroups<readonly string[], PublishReads>(
    async (scope, nameLists) => {
      const names = [...new Set(nameLists.flat())];
      const found = await scope.events.publishContext(names, fanOutPatterns(names));
      const reads = { eventTypes: new Map(found.eventTypes.map((row) => [row.name, row])), candidates: fanOutCandidates(found.subscriptions), version: found.version };
      return nameLists.map(() => ({ ok: true, value: reads }));
    },
    { maxInFlight: 2, maxWeight: MAX_EVENTS_PER_BATCH, weight: (names) => names.length },
  );
}

export interface PublishRequest {
  eventType: string;
  payload: unknown;
  idempotencyKey?: string | null;
  orderingKey?: string | null;
  channels?: readonly string[] | null;
}

function fieldPrefix(index: number | undefined) {
  return index === undefined ? '' : `events[${index}].`;
}

function checkShape(request: PublishRequest, index?: number) {
  const prefix = fieldPrefix(index);
  const eventType = requireEventTypeName(request.eventType, `${prefix}eventType`);
  if (isBuiltInEventType(eventType)) {
    throw new BadUserInputError(`${eventType} is a built-in event type: only Hooklane publishes it`, `${prefix}eventType`);
  }
  const idempotencyKey = request.idempotencyKey ?? null;
  if (idempotencyKey !== null && (idempotencyKey.length === 0 || idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
    throw new BadUserInputError(`idempotencyKey must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`, `${prefix}idempotencyKey`);
  }
  if (request.payload === undefined) throw new BadUserInputError('payload is required', `${prefix}payload`);
  return {
    eventType,
    idempotencyKey,
    orderingKey: optionalOrderingKey(request.orderingKey, `${prefix}orderingKey`),
    channels: optionalChannels(request.channels, `${prefix}channels`),
  };
}

/**
 * Checks every event (shape, event type, JSON Schema, size) before anything is written, then writes
 * them with their deliveries and jobs, and takes the publish quota, in ONE statement (one
 * transaction): once this returns, the events cannot be lost; if it throws, nothing was written.
 * What was read for the tenant's last publish of the same event types is reused when the write
 * confirms it is still current; otherwise (and before any refusal) it is read again.
 */
export async function publishEvents(
  publisher: Publisher,
  scope: TenantScope,
  schemas: PayloadSchemas,
  quotas: Quotas,
  requests: readonly PublishRequest[],
  options: { batch: boolean; handoff?: FirstAttemptHandoff; trace?: PublishTrace } = { batch: true },
): Promise<WrittenEvent[]> {
  if (requests.length === 0 || requests.length > MAX_EVENTS_PER_BATCH) {
    throw new BadUserInputError(`events must hold 1 to ${MAX_EVENTS_PER_BATCH} events`, 'events');
  }
  const shaped = requests.map((request, index) => checkShape(request, options.batch ? index : undefined));
  const names = [...new Set(shaped.map((event) => event.eventType))];

  /** Checks the events against `reads` and writes them; a reused read is checked by the write too. */
  const checkAndWrite = async (reads: PublishReads, reused: boolean): Promise<WrittenEvent[]> => {
    const createdAt = new Date();
    const rows: NewEvent[] = shaped.map((event, index) => {
      const prefix = fieldPrefix(options.batch ? index : undefined);
      const eventType = reads.eventTypes.get(event.eventType);
      if (!eventType) {
        throw new BadUserInputError(`unknown event type ${JSON.stringify(event.eventType)}: create it first`, `${prefix}eventType`);
      }
      if (eventType.archived) {
        throw new BadUserInputError(`event type ${JSON.stringify(event.eventType)} is archived: it is no longer published`, `${prefix}eventType`);
      }
      const payload = requests[index]!.payload;
      const body = deliveryBody(event.eventType, createdAt, payload);
      // A string's UTF-8 form is at most three bytes per UTF-16 unit: most bodies need no count.
      if (body.length * 3 > quotas.payloadBytes && Buffer.byteLength(body) > quotas.payloadBytes) {
        throw new BadUserInputError(`payload must be at most ${quotas.payloadBytes} bytes of JSON`, `${prefix}payload`);
      }
      // After the size check: a schema's work grows with the payload it reads.
      schemas.assertPayload(eventType, payload, `${prefix}payload`, scope.tenantId);
      return { id: newId('event'), body, createdAt, payload, eventTypeVersion: eventType.version, ...event };
    });
    const context = { candidates: reads.candidates, backlog: await estimatedBacklog(publisher, scope) };
    try {
      return await writeEvents(publisher, scope, rows, {
        context,
        quota: publishBudget(rows.length, quotas),
        contextVersion: reused ? reads.version : null,
        handoff: options.handoff,
        trace: options.trace,
      });
    } catch (error) {
      if (error instanceof QuotaRefusedError) throw publishQuotaExceeded(rows.length, quotas, error.refusal);
      throw error;
    }
  };

  const reused = publisher.reusedReads.get(scope.tenantId, names);
  if (reused) {
    try {
      return await checkAndWrite(reused, true);
    } catch (error) {
      // A change since the read (the write refused it), or an event refused against what may be an
      // old read (an event type created since): read again, and only that answer counts.
      if (error instanceof StaleContextError) publisher.reusedReads.forget(scope.tenantId);
      else if (!(error instanceof BadUserInputError)) throw error;
    }
  }
  const fresh = await publisher.publishReads.submit(scope, names);
  publisher.reusedReads.set(scope.tenantId, names, fresh);
  return checkAndWrite(fresh, false);
}

export async function publishEvent(
  publisher: Publisher,
  scope: TenantScope,
  schemas: PayloadSchemas,
  quotas: Quotas,
  request: PublishRequest,
  handoff?: FirstAttemptHandoff,
  trace?: PublishTrace,
): Promise<WrittenEvent> {
  const [written] = await publishEvents(publisher, scope, schemas, quotas, [request], { batch: false, handoff, trace });
  return written!;
}
