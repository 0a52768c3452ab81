/**
 * Errors and their contract codes: deliberate refusals are HooklaneErrors, and formatErrorFor
 * gives every error leaving the API a contract code, without the details of an unexpected one.
 */

import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';

/** The contract's error codes (../shared/contract.md): every GraphQL error carries one. */
export const ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'CONFLICT',
  'QUOTA_EXCEEDED',
  'INTERNAL_SERVER_ERROR',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

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

// Apollo's own request errors are all the client's doing: they map onto BAD_USER_INPUT.
const CLIENT_REQUEST_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

const DATABASE_RETRY_AFTER_SECONDS = 5;
/** character_not_in_repertoire: PostgreSQL text cannot hold NUL, so a client's string with one is refused there. */
const NUL_IN_TEXT_SQLSTATE = '22021';
// Connection-level failures: the network, a restarting server (57P01, 57P03), class 08 errors.
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', '57P01', '57P02', '57P03']);

/**
 * PostgreSQL text cannot hold NUL (SQLSTATE 22021, "invalid byte sequence for encoding UTF8: 0x00"):
 * only a NUL character in the client's input (an id, a name) gets one there, and the statement
 * that met it wrote nothing.
 */
function isNulInText(error: unknown): boolean {
  return findInErrorChain(error, ({ code }) => (code === '22021' ? true : undefined)) ?? false;
}

function isDatabaseUnavailable(error: unknown): boolean {
  return (
    findInErrorChain(error, ({ code }) =>
      typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08')) ? true : undefined,
    ) ?? false
  );
}

/**
 * A GraphQLError raised by graphql-js itself, not by a resolver (no cause, no path). Checked by
 * shape: more than one copy of graphql-js can be loaded, and `instanceof` fails across them.
 */
function isPlainGraphQLError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { name?: unknown; originalError?: unknown; path?: unknown };
  return (error instanceof GraphQLError || candidate.name === 'GraphQLError') && !candidate.originalError && !candidate.path;
}

/**
 * Every error leaves with a contract code. Anything that is not a deliberate HooklaneError or a
 * client request error becomes INTERNAL_SERVER_ERROR with a generic message: SQL, stack traces
 * and secrets stay in the server log.
 */
export function formatErrorFor(logger: Logger) {
  return (formatted: GraphQLFormattedError, original: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    const { stacktrace: _stacktrace, http: _http, ...extensions } = formatted.extensions ?? {};
    if (isErrorCode(code) && code !== 'INTERNAL_SERVER_ERROR') {
      return { ...formatted, extensions };
    }
    if (typeof code === 'string' && CLIENT_REQUEST_CODES.has(code)) {
      return { ...formatted, extensions: { ...extensions, code: 'BAD_USER_INPUT', reason: code } };
    }
    // graphql-js reports request-level problems (an operation the schema cannot run, an ambiguous
    // operation name) as plain errors with no path and no cause: the request is at fault.
    if (isPlainGraphQLError(original)) {
      return { ...formatted, extensions: { ...extensions, code: 'BAD_USER_INPUT', reason: 'BAD_REQUEST' } };
    }
    if (isNulInText(original)) {
      return {
        message: 'Text in the input may not contain the NUL character (\\u0000)',
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: 'BAD_USER_INPUT', reason: 'NUL_CHARACTER' },
      };
    }
    if (isDatabaseUnavailable(original)) {
      logger.warn({ err: original }, 'the database is unavailable');
      return {
        message: 'The database is unavailable: nothing was written; retry shortly',
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: 'INTERNAL_SERVER_ERROR', reason: 'DATABASE_UNAVAILABLE', retryAfter: DATABASE_RETRY_AFTER_SECONDS },
      };
    }
    logger.error({ err: original }, 'unexpected error in a GraphQL request');
    return {
      message: 'Internal server error',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
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
