import { GraphQLError } from 'graphql';

import type { ErrorCode } from './error-codes.js';

export type { ErrorCode };

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = { UNAUTHENTICATED: 401 };

export class HooklaneError extends GraphQLError {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
    const status = HTTP_STATUS[code];
    super(message, { extensions: { code, ...extra, ...(status ? { http: { status } } : {}) } });
    this.code = code;
  }
}

export class UnauthenticatedError extends HooklaneError {
  constructor(message = 'A valid bearer token is required') {
    super('UNAUTHENTICATED', message);
  }
}

export class ForbiddenError extends HooklaneError {
  constructor(message = 'This token may not do that') {
    super('FORBIDDEN', message);
  }
}

export class NotFoundError extends HooklaneError {
  constructor(what: string, id: string) {
    super('NOT_FOUND', `${what} ${JSON.stringify(id)} was not found`);
  }
}

export class BadUserInputError extends HooklaneError {
  constructor(message: string, field?: string, details?: unknown) {
    super('BAD_USER_INPUT', message, { ...(field ? { field } : {}), ...(details ? { details } : {}) });
  }
}

export class ConflictError extends HooklaneError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

export class QuotaExceededError extends HooklaneError {
  constructor(message: string, retryAfterSeconds?: number) {
    super('QUOTA_EXCEEDED', message, retryAfterSeconds === undefined ? {} : { retryAfter: retryAfterSeconds });
  }
}

/**
 * The first error in `error`'s chain (itself, then `originalError` or `cause`, a few levels deep:
 * GraphQL and drizzle wrap the driver's error) that satisfies `test`.
 */
export function findInErrorChain<T>(error: unknown, test: (candidate: Record<string, unknown>) => T | undefined): T | undefined {
  for (let current = error, depth = 0; typeof current === 'object' && current !== null && depth < 5; depth++) {
    const candidate = current as Record<string, unknown>;
    const found = test(candidate);
    if (found !== undefined) return found;
    current = candidate.originalError ?? candidate.cause;
  }
  return undefined;
}

/**
 * A start-up failure the user can fix (a folder in use, a port taken, a database out of reach):
 * what went wrong and what to do about it, which main.ts prints as one line before it exits 1.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';

  constructor(
    readonly problem: string,
    readonly fix: string,
    options?: ErrorOptions,
  ) {
    super(`${problem}. Fix: ${fix}.`, options);
  }
}
