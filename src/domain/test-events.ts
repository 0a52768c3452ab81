import { BadUserInputError, NotFoundError } from '../errors.js';
import { newId } from '../ids.js';
import type { DeliveryRow, SubscriptionRow } from '../db/schema.js';
import { QuotaRefusedError } from '../db/scoped/events.js';
import type { TenantScope } from '../db/tenant-scope.js';
import { BUILT_IN_EVENT_TYPE_LIST, builtInEventType } from '../publish/built-in-event-types.js';
import { deliveryBody } from '../publish/delivery-body.js';
import { isWildcardPattern, subscriptionReceives } from '../publish/event-matching.js';
import { estimatedBacklog, writeEvents } from '../publish/fan-out.js';
import type { FirstAttemptHandoff } from '../publish/first-attempt-handoff.js';
import type { Publisher } from '../publish/publisher.js';
import type { PublishTrace } from '../observability/trace-context.js';
import { publishQuotaExceeded, testEventBudget, type Quotas } from '../tenancy/quotas.js';
import type { EventExamples, ExampleSource } from './event-examples.js';
import { requireEventTypeName } from './input-rules.js';

/** Whether `subscription` receives events of type `name`, channels aside (a test event has none, and goes anyway). */
function receives(subscription: SubscriptionRow, name: string): boolean {
  return subscriptionReceives({ eventTypes: subscription.eventTypes, channels: null }, { eventType: name, channels: null });
}

/** The event type named, as far as publishing it needs: undefined when it does not exist or is archived. */
async function publishable(scope: TenantScope, name: string): Promise<ExampleSource | undefined> {
  const builtIn = builtInEventType(name);
  if (builtIn) return builtIn;
  const row = await scope.eventTypes.findByName(name);
  return row && row.archivedAt === null ? row : undefined;
}

/**
 * The event type a test event of `subscription` is of when none is named: the first of its event
 * types that is a name (not a wildcard) of an event type that can be published; else, the first
 * by name of the tenant's event types (built-in ones included) that its wildcards match.
 */
async function defaultEventType(scope: TenantScope, subscription: SubscriptionRow): Promise<ExampleSource> {
  for (const pattern of subscription.eventTypes) {
    if (isWildcardPattern(pattern)) continue;
    const eventType = await publishable(scope, pattern);
    if (eventType) return eventType;
  }
  const known: ExampleSource[] = [...(await scope.eventTypes.listActive()), ...BUILT_IN_EVENT_TYPE_LIST];
  const matching = known.filter((eventType) => receives(subscription, eventType.name)).sort((a, b) => (a.name < b.name ? -1 : 1));
  if (matching[0]) return matching[0];
  throw new BadUserInputError('The subscription receives no event type that exists and is not archived: name one in eventType', 'eventType');
}

/**
 * Sends one example event to one subscription now, even a disabled one: an event marked `test`,
 * with one delivery that is attempted once and never retried. Its payload is the event type's
 * example (EventExamples). It takes a token of the publish rate but is not counted in the
 * month's events, changes nothing of the subscription's health, and publishes no operational event.
 */
export async function sendTestEvent(
  publisher: Publisher,
  scope: TenantScope,
  examples: EventExamples,
  quotas: Quotas,
  input: { subscriptionId: string; eventType?: string | null },
  handoff?: FirstAttemptHandoff,
  trace?: PublishTrace,
): Promise<DeliveryRow> {
  const subscription = await scope.subscriptions.find(input.subscriptionId);
  if (!subscription) throw new NotFoundError('Subscription', input.subscriptionId);
  let eventType: ExampleSource;
  if (input.eventType === undefined || input.eventType === null) {
    eventType = await defaultEventType(scope, subscription);
  } else {
    const name = requireEventTypeName(input.eventType, 'eventType');
    if (!receives(subscription, name)) {
      throw new BadUserInputError(`The subscription does not receive ${JSON.stringify(name)} events`, 'eventType');
    }
    const found = await publishable(scope, name);
    if (!found) throw new BadUserInputError(`Event type ${JSON.stringify(name)} does not exist or is archived`, 'eventType');
    eventType = found;
  }

  const example = examples.exampleFor(eventType, scope.tenantId);
  if (!example) {
    throw new BadUserInputError(
      `No example payload passes the schema of ${eventType.name}: give the schema \`examples\` (updateEventType) and send again`,
      'eventType',
    );
  }
  const createdAt = new Date();
  const body = deliveryBody(eventType.name, createdAt, example.payload);
  if (Buffer.byteLength(body) > quotas.payloadBytes) {
    throw new BadUserInputError(`The example payload of ${eventType.name} is larger than ${quotas.payloadBytes} bytes`, 'eventType');
  }
  const event = {
    id: newId('event'),
    eventType: eventType.name,
    body,
    idempotencyKey: null,
    orderingKey: null,
    channels: null,
    eventTypeVersion: eventType.version,
    test: true,
    createdAt,
  };
  // Only this subscription, as if enabled and unordered: sent now, behind no held or ordered backlog.
  // A test event goes whatever the subscription's filter says: its owner is trying the endpoint.
  const candidate = { id: subscription.id, enabled: true, ordered: false, eventTypes: subscription.eventTypes, channels: null, filter: null, accepts: null };
  try {
    await writeEvents(publisher, scope, [event], {
      context: { candidates: [candidate], backlog: await estimatedBacklog(publisher, scope) },
      quota: testEventBudget(quotas),
      handoff,
      trace,
    });
  } catch (error) {
    if (error instanceof QuotaRefusedError) throw publishQuotaExceeded(1, quotas, error.refusal);
    throw error;
  }
  // Deleted since it was read: the write made no delivery.
  const [delivery] = await scope.deliveries.listForEvents([event.id], 1);
  if (!delivery) throw new NotFoundError('Subscription', input.subscriptionId);
  return delivery;
}
