/** Cursor pagination over time-ordered ids, newest first: a cursor is the last id seen, opaque to clients. */
export interface PageRequest {
  first: number;
  afterId: string | undefined;
}

export interface Page<T> {
  items: T[];
  hasNextPage: boolean;
}

export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

/** Returns the id inside a cursor, or undefined when the cursor is not one of ours. */
export function decodeCursor(cursor: string): string | undefined {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  return /^[a-z]{3}_[0-9a-f]{32}$/.test(id) ? id : undefined;
}

/** Fetch one row more than asked for: its presence answers hasNextPage without a count. */
export function toPage<T>(rows: T[], first: number): Page<T> {
  return { items: rows.slice(0, first), hasNextPage: rows.length > first };
}
