import { BadUserInputError } from '../errors.js';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from '../db/pagination.js';

export const DEFAULT_PAGE_SIZE = 20;

/** Lists inside an object (`Event.deliveries`, `Delivery.attempts`): their `first` when omitted, and its largest value. */
export const NESTED_LIST_DEFAULT_SIZE = 100;
export const NESTED_LIST_MAX_SIZE = 1000;

/** A nested list's `first`, checked: 1 to NESTED_LIST_MAX_SIZE. */
export function nestedListSize(first: number | null | undefined): number {
  const size = first ?? NESTED_LIST_DEFAULT_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > NESTED_LIST_MAX_SIZE) {
    throw new BadUserInputError(`first must be between 1 and ${NESTED_LIST_MAX_SIZE}`, 'first');
  }
  return size;
}

export function pageRequest(args: { first?: number | null; after?: string | null }, maxPageSize: number): PageRequest {
  const first = args.first ?? Math.min(DEFAULT_PAGE_SIZE, maxPageSize);
  if (!Number.isInteger(first) || first < 1 || first > maxPageSize) {
    throw new BadUserInputError(`first must be between 1 and ${maxPageSize}`, 'first');
  }
  if (args.after === null || args.after === undefined) return { first, afterId: undefined };
  const afterId = decodeCursor(args.after);
  if (!afterId) throw new BadUserInputError('after is not a cursor from this API', 'after');
  return { first, afterId };
}

export function toConnection<T extends { id: string }>(page: Page<T>) {
  const edges = page.items.map((node) => ({ cursor: encodeCursor(node.id), node }));
  return {
    edges,
    pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
  };
}
