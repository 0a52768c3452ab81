import { BadUserInputError } from '../errors.js';

/** The contract's event type name pattern, e.g. `invoice.paid`. */
export const EVENT_TYPE_NAME = /^[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*$/;
export const MAX_NAME_LENGTH = 200;
export const MAX_DESCRIPTION_LENGTH = 2_000;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
export const MAX_EVENT_TYPES_PER_SUBSCRIPTION = 100;
export const MAX_PAYLOAD_BYTES = 256 * 1024;

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

export function requireEventTypeList(names: readonly string[], field = 'eventTypes'): string[] {
  if (names.length === 0) throw new BadUserInputError(`${field} must list at least one event type`, field);
  if (names.length > MAX_EVENT_TYPES_PER_SUBSCRIPTION) {
    throw new BadUserInputError(`${field} may list at most ${MAX_EVENT_TYPES_PER_SUBSCRIPTION} event types`, field);
  }
  for (const name of names) requireEventTypeName(name, field);
  return [...new Set(names)];
}
