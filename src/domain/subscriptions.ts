import { BadUserInputError, NotFoundError } from '../errors.js';
import { parseDuration } from '../duration.js';
import type { PayloadMode, SubscriptionRow } from '../db/schema.js';
import type { SubscriptionChanges } from '../db/scoped/subscriptions.js';
import type { TenantScope } from '../db/tenant-scope.js';
import { assertRoomFor, type Quotas } from '../tenancy/quotas.js';
import { isWildcardPattern } from '../publish/event-matching.js';
import { checkSubscriptionUrl } from '../delivery/network-policy.js';
import { BUILT_IN_EVENT_TYPE_NAMES, isBuiltInEventType } from '../publish/operational-events.js';
import { generateEd25519KeyPair, generateSecret } from '../delivery/signer.js';
import type { Publisher } from '../publish/publisher.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { newId } from '../ids.js';
import { disableSubscription, enableSubscription } from './subscription-lifecycle.js';
import { checkSubscriptionFilter } from './subscription-filters.js';
import { checkEndpointCombination, endpointChangesFrom, endpointColumns, type EndpointSettingsInput } from './endpoint-settings.js';
import {
  MAX_DESCRIPTION_LENGTH,
  optionalChannels,
  optionalIntegerInRange,
  optionalText,
  requireEventTypePatterns,
} from './input-rules.js';

export interface SubscriptionRules {
  allowPrivateNetworks: boolean;
  httpsOnly: boolean;
  /** Seals signing secrets before they are stored. */
  secretBox: SecretBox;
}

export const DEFAULT_ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;
const MAX_ROTATION_OVERLAP_MS = 7 * 24 * 60 * 60 * 1000;

function newEd25519Keys(rules: SubscriptionRules, subscriptionId: string) {
  const pair = generateEd25519KeyPair();
  return { ed25519SecretKey: rules.secretBox.seal(pair.secretKey, subscriptionId), ed25519PublicKey: pair.publicKey };
}

export const MAX_RETRY_SCHEDULE_ENTRIES = 20;
const MAX_RETRY_DELAY_MS = 24 * 60 * 60 * 1000;
export const MAX_RATE_LIMIT = 10_000;
export const MAX_IN_FLIGHT_LIMIT = 1_000;

export interface SubscriptionInput extends EndpointSettingsInput {
  url?: string | null;
  eventTypes?: readonly string[] | null;
  description?: string | null;
  channels?: readonly string[] | null;
  filter?: unknown;
  retrySchedule?: readonly string[] | null;
  ordered?: boolean | null;
  payloadMode?: PayloadMode | null;
  rateLimit?: number | null;
  maxInFlight?: number | null;
  ed25519Signing?: boolean | null;
}

function requireUrl(raw: string, rules: SubscriptionRules): string {
  const checked = checkSubscriptionUrl(raw, { allowPrivateNetworks: rules.allowPrivateNetworks, httpsOnly: rules.httpsOnly });
  if (!checked.ok) throw new BadUserInputError(`url is not accepted: ${checked.reason}`, 'url');
  return checked.url.toString();
}

/** Names must be event types of the tenant or built-in ones; wildcards need not match anything yet. */
async function requireKnownEventTypes(scope: TenantScope, patterns: readonly string[]): Promise<string[]> {
  const list = requireEventTypePatterns(patterns);
  const names = list.filter((pattern) => !isWildcardPattern(pattern) && !isBuiltInEventType(pattern));
  const unknownBuiltIns = list.filter((pattern) => isBuiltInEventType(pattern) && !isWildcardPattern(pattern) && !BUILT_IN_EVENT_TYPE_NAMES.includes(pattern));
  const missing = [...unknownBuiltIns, ...(await scope.eventTypes.missingNames(names))];
  if (missing.length > 0) {
    throw new BadUserInputError(`unknown event type(s): ${missing.join(', ')}`, 'eventTypes', { missing });
  }
  return list;
}

export function parseRetrySchedule(entries: readonly string[] | null | undefined): number[] | null {
  if (entries === null || entries === undefined) return null;
  if (entries.length > MAX_RETRY_SCHEDULE_ENTRIES) {
    throw new BadUserInputError(`retrySchedule may have at most ${MAX_RETRY_SCHEDULE_ENTRIES} entries`, 'retrySchedule');
  }
  return entries.map((entry) => {
    let delay: number;
    try {
      delay = parseDuration(entry);
    } catch (error) {
      throw new BadUserInputError(`retrySchedule: ${(error as Error).message}`, 'retrySchedule');
    }
    if (delay > MAX_RETRY_DELAY_MS) throw new BadUserInputError('retrySchedule delays may be at most 1d', 'retrySchedule');
    return delay;
  });
}

/**
 * Checks the settings present in `input`; absent ones stay absent, explicit nulls clear. Secrets
 * are sealed for `subscriptionId`, the row they go into.
 */
async function settingsFrom(scope: TenantScope, rules: SubscriptionRules, input: SubscriptionInput, subscriptionId: string): Promise<SubscriptionChanges> {
  const changes: SubscriptionChanges = {};
  if (input.url !== undefined && input.url !== null) changes.url = requireUrl(input.url, rules);
  if (input.eventTypes !== undefined && input.eventTypes !== null) changes.eventTypes = await requireKnownEventTypes(scope, input.eventTypes);
  if (input.description !== undefined) changes.description = optionalText(input.description, 'description', MAX_DESCRIPTION_LENGTH);
  if (input.channels !== undefined) changes.channels = optionalChannels(input.channels);
  if (input.retrySchedule !== undefined) changes.retryScheduleMs = parseRetrySchedule(input.retrySchedule);
  if (input.ordered !== undefined && input.ordered !== null) changes.ordered = input.ordered;
  if (input.payloadMode !== undefined && input.payloadMode !== null) changes.payloadMode = input.payloadMode;
  if (input.rateLimit !== undefined) changes.rateLimit = optionalIntegerInRange(input.rateLimit, 'rateLimit', 1, MAX_RATE_LIMIT);
  if (input.maxInFlight !== undefined) {
    changes.maxInFlight = optionalIntegerInRange(input.maxInFlight, 'maxInFlight', 1, MAX_IN_FLIGHT_LIMIT);
  }
  if (input.ed25519Signing === true) Object.assign(changes, newEd25519Keys(rules, subscriptionId));
  if (input.ed25519Signing === false) Object.assign(changes, { ed25519SecretKey: null, ed25519PublicKey: null });
  return changes;
}

export async function createSubscription(
  scope: TenantScope,
  rules: SubscriptionRules,
  quotas: Quotas,
  input: SubscriptionInput & { url: string; eventTypes: readonly string[] },
): Promise<{ subscription: SubscriptionRow; secret: string }> {
  // The id comes first: the secrets are sealed for it.
  const id = newId('subscription');
  const settings = await settingsFrom(scope, rules, input, id);
  const filter = input.filter === null || input.filter === undefined ? null : (await checkSubscriptionFilter(scope, input.filter, settings.eventTypes!)).stored;
  const endpoint = endpointChangesFrom(input, rules);
  checkEndpointCombination(endpoint, settings.url!);
  const secret = generateSecret();
  const subscription = await scope.transaction(async (tx) => {
    await assertRoomFor(tx, 'subscriptions', quotas);
    return tx.subscriptions.create({
    id,
    ...endpointColumns(endpoint, rules.secretBox, id),
    url: settings.url!,
    eventTypes: settings.eventTypes!,
    description: settings.description ?? null,
    channels: settings.channels ?? null,
    filter,
    retryScheduleMs: settings.retryScheduleMs ?? null,
    ordered: settings.ordered ?? false,
    payloadMode: settings.payloadMode ?? 'FULL',
    rateLimit: settings.rateLimit ?? null,
    maxInFlight: settings.maxInFlight ?? null,
    ed25519SecretKey: settings.ed25519SecretKey ?? null,
    ed25519PublicKey: settings.ed25519PublicKey ?? null,
    secret: rules.secretBox.seal(secret, id),
    });
  });
  return { subscription, secret };
}

/**
 * Applies the changes and, when `enabled` flips, the transition: disabling keeps new events as
 * HELD; enabling sends them in publish order. All in one transaction. A filter is checked against
 * the event types the subscription will receive: a new filter, or the kept one when they change.
 */
export async function updateSubscription(
  publisher: Publisher,
  scope: TenantScope,
  rules: SubscriptionRules,
  input: SubscriptionInput & { id: string; enabled?: boolean | null },
): Promise<SubscriptionRow> {
  const settings = await settingsFrom(scope, rules, input, input.id);
  const endpoint = endpointChangesFrom(input, rules);
  return scope.transaction(async (tx, executor) => {
    let subscription = await tx.subscriptions.findForUpdate(input.id);
    if (!subscription) throw new NotFoundError('Subscription', input.id);
    checkEndpointCombination(endpoint, settings.url ?? subscription.url, subscription);
    const changes = { ...settings, ...endpointColumns(endpoint, rules.secretBox, subscription.id) };
    const patterns = changes.eventTypes ?? subscription.eventTypes;
    if (input.filter === null) changes.filter = null;
    else if (input.filter !== undefined) changes.filter = (await checkSubscriptionFilter(tx, input.filter, patterns)).stored;
    else if (changes.eventTypes && subscription.filter !== null) await checkSubscriptionFilter(tx, subscription.filter, patterns);
    if (Object.keys(changes).length > 0) subscription = (await tx.subscriptions.update(input.id, changes))!;
    if (input.enabled === false) subscription = await disableSubscription(publisher, tx, subscription, 'MANUAL');
    if (input.enabled === true) subscription = await enableSubscription(publisher, tx, executor, subscription);
    return subscription;
  });
}

export async function rotateSubscriptionSecret(
  scope: TenantScope,
  rules: SubscriptionRules,
  input: { id: string; overlap?: string | null },
): Promise<{ subscription: SubscriptionRow; secret: string }> {
  const { id } = input;
  let overlapMs = DEFAULT_ROTATION_OVERLAP_MS;
  if (input.overlap !== undefined && input.overlap !== null) {
    try {
      overlapMs = parseDuration(input.overlap);
    } catch (error) {
      throw new BadUserInputError(`overlap: ${(error as Error).message}`, 'overlap');
    }
    if (overlapMs > MAX_ROTATION_OVERLAP_MS) throw new BadUserInputError('overlap may be at most 7d', 'overlap');
  }
  const secret = generateSecret();
  const subscription = await scope.subscriptions.replaceSecret(id, rules.secretBox.seal(secret, id), overlapMs);
  if (!subscription) throw new NotFoundError('Subscription', id);
  return { subscription, secret };
}

export async function deleteSubscription(scope: TenantScope, id: string): Promise<void> {
  if (!(await scope.subscriptions.delete(id))) throw new NotFoundError('Subscription', id);
}

export async function discardHeldDeliveries(scope: TenantScope, subscriptionId: string): Promise<{ subscription: SubscriptionRow; discardedCount: number }> {
  return scope.transaction(async (tx) => {
    const subscription = await tx.subscriptions.findForUpdate(subscriptionId);
    if (!subscription) throw new NotFoundError('Subscription', subscriptionId);
    return { subscription, discardedCount: await tx.deliveries.discardHeld(subscriptionId) };
  });
}
