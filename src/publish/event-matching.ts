/**
 * Which subscriptions receive an event: event type patterns (exact names and `prefix.*` / `*`
 * wildcards) and channels. Pure, so the rules are unit-tested and the database only has to
 * pre-select candidates with an indexed array overlap.
 */

import { BoundedMap } from '../bounded-map.js';

export const WILDCARD = '*';

export const BUILT_IN_PREFIX = 'hooklane.';

/** Event types seen lately and their patterns: fan-out asks once per event and subscription. */
const patternsByEventType = new BoundedMap<string, readonly string[]>(10_000);

/**
 * Every subscription pattern that matches `eventType`: itself, each `prefix.*`, and `*`.
 * Built-in `hooklane.*` events are not matched by `*`: they are received only when asked for.
 */
export function patternsMatching(eventType: string): readonly string[] {
  const known = patternsByEventType.get(eventType);
  if (known) return known;
  const segments = eventType.split('.');
  const patterns = [eventType];
  for (let length = segments.length - 1; length >= 1; length--) {
    patterns.push(`${segments.slice(0, length).join('.')}.${WILDCARD}`);
  }
  if (!eventType.startsWith(BUILT_IN_PREFIX)) patterns.push(WILDCARD);
  patternsByEventType.set(eventType, Object.freeze(patterns));
  return patterns;
}

export function isWildcardPattern(pattern: string): boolean {
  return pattern === WILDCARD || pattern.endsWith(`.${WILDCARD}`);
}

export interface MatchableSubscription {
  eventTypes: readonly string[];
  channels: readonly string[] | null;
}

export function subscriptionReceives(
  subscription: MatchableSubscription,
  event: { eventType: string; channels: readonly string[] | null },
): boolean {
  const patterns = patternsMatching(event.eventType);
  if (!subscription.eventTypes.some((pattern) => patterns.includes(pattern))) return false;
  if (subscription.channels === null) return true;
  return (event.channels ?? []).some((channel) => subscription.channels!.includes(channel));
}
