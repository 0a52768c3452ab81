import { v7 as uuidv7 } from 'uuid';

/**
 * Object ids are a type prefix and a UUIDv7 in hex: readable in logs, and time-ordered so that
 * "newest first" pagination can sort on the id alone.
 */
export const ID_PREFIX = {
  tenant: 'ten',
  eventType: 'etp',
  subscription: 'sub',
  event: 'evt',
  delivery: 'dlv',
  attempt: 'att',
  audit: 'aud',
} as const;

export type IdKind = keyof typeof ID_PREFIX;

export function newId(kind: IdKind): string {
  return `${ID_PREFIX[kind]}_${uuidv7().replaceAll('-', '')}`;
}
