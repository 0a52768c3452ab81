/** The error codes of Hooklane's contract: every GraphQL error the API returns carries one. */
export const CONTRACT_ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'CONFLICT',
  'QUOTA_EXCEEDED',
  'INTERNAL_SERVER_ERROR',
] as const;

export type ContractErrorCode = (typeof CONTRACT_ERROR_CODES)[number];

export function isContractErrorCode(value: unknown): value is ContractErrorCode {
  return typeof value === 'string' && (CONTRACT_ERROR_CODES as readonly string[]).includes(value);
}

/**
 * Codes the SDK adds for failures that never reached a GraphQL answer:
 * - `NETWORK_ERROR`: no HTTP response at all (connection refused, DNS failure, TLS failure, abort).
 * - `BAD_RESPONSE`: an HTTP response that is not a GraphQL result (e.g. an HTML 502 from a proxy,
 *   or JSON with neither `data` nor `errors`); `status` says what came back.
 */
export type ClientErrorCode = 'NETWORK_ERROR' | 'BAD_RESPONSE';

export type HooklaneErrorCode = ContractErrorCode | ClientErrorCode;

/** One entry of a GraphQL response's `errors`. */
export interface GraphQLErrorEntry {
  message: string;
  path?: ReadonlyArray<string | number>;
  locations?: ReadonlyArray<{ line: number; column: number }>;
  extensions?: Record<string, unknown>;
}

export interface HooklaneErrorOptions {
  /** Seconds to wait before trying again (`extensions.retryAfter`, or a `Retry-After` header). */
  retryAfter?: number;
  /** The GraphQL path of the field that failed, e.g. `["publishEvent"]`. */
  path?: ReadonlyArray<string | number>;
  /** The HTTP status of the response, when there was one. */
  status?: number;
  /** The first error's `extensions` as the server sent them (e.g. `field` for BAD_USER_INPUT). */
  extensions?: Record<string, unknown>;
  /** Every GraphQL error of the response; the error itself describes the first. */
  errors?: ReadonlyArray<GraphQLErrorEntry>;
  cause?: unknown;
}

/** What every client method throws. */
export class HooklaneError extends Error {
  override readonly name = 'HooklaneError';
  readonly code: HooklaneErrorCode;
  readonly retryAfter: number | undefined;
  readonly path: ReadonlyArray<string | number> | undefined;
  readonly status: number | undefined;
  readonly extensions: Record<string, unknown>;
  readonly errors: ReadonlyArray<GraphQLErrorEntry>;

  constructor(code: HooklaneErrorCode, message: string, options: HooklaneErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryAfter = options.retryAfter;
    this.path = options.path;
    this.status = options.status;
    this.extensions = options.extensions ?? {};
    this.errors = options.errors ?? [];
  }

  /** The input field at fault, for BAD_USER_INPUT (`extensions.field`), e.g. `url` or `events[3].payload`. */
  get field(): string | undefined {
    return typeof this.extensions.field === 'string' ? this.extensions.field : undefined;
  }
}

export function isHooklaneError(error: unknown, code?: HooklaneErrorCode): error is HooklaneError {
  return error instanceof HooklaneError && (code === undefined || error.code === code);
}
