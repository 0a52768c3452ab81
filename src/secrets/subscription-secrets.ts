import type { SecretBox } from './secret-box.js';

/**
 * The one place a subscription's endpoint secrets (header values, auth credentials, the TLS client
 * key) are sealed and opened. The subscription's id is passed so that sealed values can be bound
 * to their row here, for all of them at once.
 */
export function sealSubscriptionSecret(secretBox: SecretBox, _subscriptionId: string, plain: string): string {
  return secretBox.seal(plain);
}

/** Opens what sealSubscriptionSecret sealed; the SecretBox caches opened values. */
export function openSubscriptionSecret(secretBox: SecretBox, _subscriptionId: string, sealed: string): string {
  return secretBox.open(sealed);
}
