import { BadUserInputError } from '../errors.js';

/** The contract's event type name pattern, e.g. `invoice.paid`. */
export const EVENT_TYPE_NAME = /^[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*$/;
export const MAX_NAME_LENGTH = 200;
export const MAX_DESCRIPTION_LENGTH = 2_000;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
export const MAX_EVENT_TYPES_PER_SUBSCRIPTION = 100;

export function requireText(value: string, field: string, maxLength: number): string {
  const trimmed = value.trim();
  if (trimmed.length === 0) throw new BadUserInputError(`${field} must not be empty`, field);
  if (trimmed.length > maxLength) throw new BadUserInputError(`${field} must be at most ${maxLength} characters`, field);
  return trimmed;
}

export function optionalText(value: string | null | undefined, field: string, maxLength: number): string | null {
  if (value === null || value === undefined) return null;
  if (value.length > maxLength) throw new BadUserInputError(`${field} must be at most ${maxLength} characters`, field);
  return value;
}

export function requireEventTypeName(name: string, field = 'name'): string {
  if (name.length > MAX_NAME_LENGTH || !EVENT_TYPE_NAME.test(name)) {
    throw new BadUserInputError(
      `${field} ${JSON.stringify(name.slice(0, 100))} is not an event type name (letters, digits, _ and -, dot-separated)`,
      field,
    );
  }
  return name;
}

export const MAX_CHANNELS = 20;
export const MAX_ORDERING_KEY_LENGTH = 200;
const EVENT_TYPE_PATTERN = /^(\*|[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*(\.\*)?)$/;
const CHANNEL_NAME = /^[a-zA-Z0-9_.:-]{1,100}$/;

/** Event type names and wildcards (`invoice.*`, `*`) as a subscription lists them. */
export function requireEventTypePatterns(patterns: readonly string[], field = 'eventTypes'): string[] {
  if (patterns.length === 0) throw new BadUserInputError(`${field} must list at least one event type`, field);
  if (patterns.length > MAX_EVENT_TYPES_PER_SUBSCRIPTION) {
    throw new BadUserInputError(`${field} may list at most ${MAX_EVENT_TYPES_PER_SUBSCRIPTION} event types`, field);
  }
  for (const pattern of patterns) {
    if (pattern.length > MAX_NAME_LENGTH || !EVENT_TYPE_PATTERN.test(pattern)) {
      throw new BadUserInputError(
        `${field} entry ${JSON.stringify(pattern.slice(0, 100))} is not an event type name or wildcard (name, prefix.*, *)`,
        field,
      );
    }
  }
  return [...new Set(patterns)];
}

export function optionalChannels(channels: readonly string[] | null | undefined, field = 'channels'): string[] | null {
  if (channels === null || channels === undefined) return null;
  if (channels.length === 0 || channels.length > MAX_CHANNELS) {
    throw new BadUserInputError(`${field} must list 1 to ${MAX_CHANNELS} channels (omit it for none)`, field);
  }
  for (const channel of channels) {
    if (!CHANNEL_NAME.test(channel)) {
      throw new BadUserInputError(`${field} entry ${JSON.stringify(channel.slice(0, 100))} is not a channel name (letters, digits, _ . : -)`, field);
    }
  }
  return [...new Set(channels)];
}

export function optionalOrderingKey(key: string | null | undefined, field = 'orderingKey'): string | null {
  if (key === null || key === undefined) return null;
  if (key.length === 0 || key.length > MAX_ORDERING_KEY_LENGTH) {
    throw new BadUserInputError(`orderingKey must be 1 to ${MAX_ORDERING_KEY_LENGTH} characters`, field);
  }
  return key;
}

export function optionalIntegerInRange(value: number | null | undefined, field: string, min: number, max: number): number | null {
  if (value === null || value === undefined) return null;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new BadUserInputError(`${field} must be a whole number from ${min} to ${max}`, field);
  }
  return value;
}
