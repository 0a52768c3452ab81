import { BadUserInputError, NotFoundError } from '../errors.js';
import type { SubscriptionRow } from '../db/schema.js';
import type { SubscriptionChanges } from '../db/scoped/subscriptions.js';
import type { TenantScope } from '../db/tenant-scope.js';
import { checkSubscriptionUrl } from '../delivery/network-policy.js';
import { generateSecret } from '../delivery/signer.js';
import { MAX_DESCRIPTION_LENGTH, optionalText, requireEventTypeList } from './input-rules.js';

export interface SubscriptionRules {
  allowPrivateNetworks: boolean;
}

function requireUrl(raw: string, rules: SubscriptionRules): string {
  const checked = checkSubscriptionUrl(raw, { allowPrivateNetworks: rules.allowPrivateNetworks });
  if (!checked.ok) throw new BadUserInputError(`url is not accepted: ${checked.reason}`, 'url');
  return checked.url.toString();
}

async function requireKnownEventTypes(scope: TenantScope, names: readonly string[]): Promise<string[]> {
  const list = requireEventTypeList(names);
  const missing = await scope.eventTypes.missingNames(list);
  if (missing.length > 0) {
    throw new BadUserInputError(`unknown event type(s): ${missing.join(', ')}`, 'eventTypes', { missing });
  }
  return list;
}

export async function createSubscription(
  scope: TenantScope,
  rules: SubscriptionRules,
  input: { url: string; eventTypes: readonly string[]; description?: string | null },
): Promise<{ subscription: SubscriptionRow; secret: string }> {
  const url = requireUrl(input.url, rules);
  const description = optionalText(input.description, 'description', MAX_DESCRIPTION_LENGTH);
  const eventTypes = await requireKnownEventTypes(scope, input.eventTypes);
  const secret = generateSecret();
  const subscription = await scope.subscriptions.create({ url, eventTypes, description, secret });
  return { subscription, secret };
}

export async function updateSubscription(
  scope: TenantScope,
  rules: SubscriptionRules,
  input: { id: string; url?: string | null; eventTypes?: readonly string[] | null; description?: string | null; enabled?: boolean | null },
): Promise<SubscriptionRow> {
  const changes: SubscriptionChanges = {};
  if (input.url !== undefined && input.url !== null) changes.url = requireUrl(input.url, rules);
  if (input.eventTypes !== undefined && input.eventTypes !== null) {
    changes.eventTypes = await requireKnownEventTypes(scope, input.eventTypes);
  }
  if (input.description !== undefined) changes.description = optionalText(input.description, 'description', MAX_DESCRIPTION_LENGTH);
  if (input.enabled !== undefined && input.enabled !== null) changes.enabled = input.enabled;
  const updated = await scope.subscriptions.update(input.id, changes);
  if (!updated) throw new NotFoundError('Subscription', input.id);
  return updated;
}

export async function rotateSubscriptionSecret(scope: TenantScope, id: string): Promise<{ subscription: SubscriptionRow; secret: string }> {
  const secret = generateSecret();
  const subscription = await scope.subscriptions.replaceSecret(id, secret);
  if (!subscription) throw new NotFoundError('Subscription', id);
  return { subscription, secret };
}

export async function deleteSubscription(scope: TenantScope, id: string): Promise<void> {
  if (!(await scope.subscriptions.delete(id))) throw new NotFoundError('Subscription', id);
}
