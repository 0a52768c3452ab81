import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import { Agent, type Dispatcher } from 'undici';
import { isPublicAddress, literalIp, refusalReason } from './network-policy.js';
import { classifyStatus, type AttemptOutcome, type NetworkFailure } from './retry-policy.js';

export interface SendRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
}

export interface SendResult {
  outcome: AttemptOutcome;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  responseBody: string | null;
}

export interface HttpSenderOptions {
  timeoutMs: number;
  allowPrivateNetworks: boolean;
  /** DELIVERY_HTTPS_ONLY: refuse plain http URLs. */
  httpsOnly?: boolean;
  /** Where host names are resolved; the system resolver by default. */
  resolver?: HostResolver;
  /** Bytes kept of the response body. */
  responseBodyLimit: number;
  connectionsPerOrigin?: number;
}

const REFUSED_CODE = 'ERR_HOOKLANE_ADDRESS_REFUSED';

class AddressRefusedError extends Error {
  readonly code = REFUSED_CODE;
  constructor(address: string) {
    super(`refused: ${refusalReason(address)}`);
    this.name = 'AddressRefusedError';
  }
}

class AttemptTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`timed out after ${timeoutMs}ms`);
    this.name = 'AttemptTimeoutError';
  }
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * Resolves once and vets every answer, then hands exactly those addresses to
 * the socket: a second resolution (DNS rebinding) never happens, and a name
 * with any private answer is refused rather than raced.
 */
/** How host names are resolved: the system resolver, or another one (tests map names to chosen addresses). */
export type HostResolver = (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemResolver: HostResolver = (hostname, callback) => dnsLookup(hostname, { all: true }, callback);

const guardedLookup = (resolve: HostResolver) => (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
  resolve(hostname, (err, resolved) => {
    const addresses = options.family === 4 || options.family === 6 ? resolved.filter((entry) => entry.family === options.family) : resolved;
    if (err) {
      callback(err, []);
      return;
    }
    const refused = addresses.find((entry) => !isPublicAddress(entry.address));
    if (refused) {
      callback(new AddressRefusedError(refused.address), []);
      return;
    }
    const first = addresses[0];
    if (!first) {
      callback(Object.assign(new Error(`no addresses for ${hostname}`), { code: 'ENOTFOUND' }), []);
      return;
    }
    if (options.all) callback(null, addresses);
    else callback(null, first.address, first.family);
  });
};

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** The error and everything it wraps (cause chains, AggregateError from happy-eyeballs connects). */
function errorChain(error: unknown): ErrorLike[] {
  const chain: ErrorLike[] = [];
  const queue: unknown[] = [error];
  while (queue.length > 0 && chain.length < 20) {
    const current = queue.shift();
    if (typeof current !== 'object' || current === null) continue;
    const item = current as ErrorLike;
    chain.push(item);
    if (item.cause !== undefined) queue.push(item.cause);
    if (Array.isArray(item.errors)) queue.push(...(item.errors as unknown[]));
  }
  return chain;
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

function describeNetworkError(error: unknown): string {
  const chain = errorChain(error);
  const withCode = chain.find((e) => typeof e.code === 'string' && e.code !== 'UND_ERR_SOCKET')
    ?? chain.find((e) => typeof e.code === 'string');
  const withMessage = chain.find((e) => typeof e.message === 'string' && e.message !== '');
  const code = withCode ? String(withCode.code) : null;
  const message = withMessage ? String(withMessage.message) : String(error);
  if (code === null || message.includes(code)) return message;
  return `${code}: ${message}`;
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME']);

function networkFailureOf(chain: ErrorLike[]): NetworkFailure {
  const codes = chain.map((e) => (typeof e.code === 'string' ? e.code : ''));
  if (codes.some((code) => DNS_CODES.has(code))) return 'dns';
  if (codes.some((code) => code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code))) {
    return 'tls';
  }
  return 'connection';
}

function classifyError(error: unknown, timeoutMs: number, timedOut: boolean): { outcome: AttemptOutcome; error: string } {
  const chain = errorChain(error);
  const refused = chain.find((e) => e.code === REFUSED_CODE);
  if (refused) {
    const message = String(refused.message);
    return { outcome: { kind: 'refused', message }, error: message };
  }
  if (timedOut || chain.some((e) => e instanceof AttemptTimeoutError || (typeof e.code === 'string' && TIMEOUT_CODES.has(e.code)))) {
    return { outcome: { kind: 'timeout' }, error: `timed out after ${timeoutMs}ms` };
  }
  const message = describeNetworkError(error);
  return { outcome: { kind: 'network_error', cause: networkFailureOf(chain), message }, error: message };
}

export class HttpSender {
  private readonly agent: Agent;
  private readonly options: HttpSenderOptions;

  constructor(options: HttpSenderOptions) {
    this.options = options;
    this.agent = new Agent({
      // One request per connection at a time: a slow receiver must not
      // hold up deliveries queued behind it on the same socket.
      pipelining: 1,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 30_000,
      connections: options.connectionsPerOrigin ?? null,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: {
        timeout: options.timeoutMs,
        ...(options.allowPrivateNetworks ? {} : { lookup: guardedLookup(options.resolver ?? systemResolver) }),
      },
    });
  }

  async send(req: SendRequest): Promise<SendResult> {
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    const { timeoutMs, responseBodyLimit } = this.options;

    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      const message = `invalid URL: ${req.url}`;
      return { outcome: { kind: 'refused', message }, statusCode: null, error: message, durationMs: elapsed(), responseBody: null };
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || (this.options.httpsOnly && url.protocol !== 'https:')) {
      const message = `refused: scheme ${url.protocol} is not allowed`;
      return { outcome: { kind: 'refused', message }, statusCode: null, error: message, durationMs: elapsed(), responseBody: null };
    }
    if (!this.options.allowPrivateNetworks) {
      // Literal IPs never go through the lookup hook, so they are vetted here.
      const ip = literalIp(url.hostname);
      if (ip !== null && !isPublicAddress(ip)) {
        const message = `refused: ${refusalReason(ip)}`;
        return { outcome: { kind: 'refused', message }, statusCode: null, error: message, durationMs: elapsed(), responseBody: null };
      }
    }

    return new Promise<SendResult>((resolve) => {
      // undici's dispatch API: no AbortSignal, no body stream, no async iteration per attempt.
      let controller: Dispatcher.DispatchController | undefined;
      let settled = false;
      let timedOut = false;
      let statusCode: number | null = null;
      let retryAfter: string | string[] | undefined;
      const kept: Buffer[] = [];
      let keptBytes = 0;
      let truncated = false;
      const responseBody = (): string | null =>
        // PostgreSQL text cannot hold NUL: a receiver's binary answer must not fail the attempt's record.
        statusCode === null ? null : new StringDecoder('utf8').write(Buffer.concat(kept)).replaceAll('\0', '\uFFFD');
      const finish = (result: SendResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const completed = () => {
        const outcome = classifyStatus(statusCode!, retryAfter);
        const error = outcome.kind === 'success' ? null : `HTTP ${statusCode} (not 2xx)`;
        finish({ outcome, statusCode, error, durationMs: elapsed(), responseBody: responseBody() });
      };
      const failed = (error: unknown) => {
        const classified = classifyError(error, timeoutMs, timedOut);
        finish({ outcome: classified.outcome, statusCode, error: classified.error, durationMs: elapsed(), responseBody: responseBody() });
      };
      const timer = setTimeout(() => {
        timedOut = true;
        const reason = new AttemptTimeoutError(timeoutMs);
        controller?.abort(reason);
        failed(reason);
      }, timeoutMs);

      try {
        this.agent.dispatch(
          { origin: url.origin, path: `${url.pathname}${url.search}`, method: 'POST', headers: req.headers, body: req.body },
          {
            onRequestStart(start) {
              controller = start;
              if (settled) start.abort(new AttemptTimeoutError(timeoutMs));
            },
            onResponseStart(_controller, status, headers) {
              // An informational 1xx answer comes before the real one.
              if (status < 200) return;
              statusCode = status;
              retryAfter = headers['retry-after'];
            },
            onResponseData(current, chunk) {
              if (truncated) return;
              const room = responseBodyLimit - keptBytes;
              if (chunk.length > room) {
                if (room > 0) kept.push(chunk.subarray(0, room));
                keptBytes += Math.max(room, 0);
                truncated = true;
                // Enough is kept: the connection is dropped instead of reading an oversized body.
                completed();
                current.abort(new Error('response body over the limit'));
                return;
              }
              kept.push(chunk);
              keptBytes += chunk.length;
            },
            onResponseEnd() {
              completed();
            },
            onResponseError(_controller, error) {
              failed(error);
            },
          },
        );
      } catch (error) {
        failed(error);
      }
    });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
