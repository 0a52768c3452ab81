import { BadUserInputError } from '../errors.js';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from '../db/pagination.js';

export const DEFAULT_PAGE_SIZE = 20;

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
