import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import tls from 'node:tls';
import { Agent, buildConnector, Pool, ProxyAgent, type Dispatcher } from 'undici';
import { isPublicAddress, literalIp, refusalReason } from './network-policy.js';
import { bypassesProxy, type ProxySettings } from './proxy-routing.js';
import { classifyStatus, type AttemptOutcome, type NetworkFailure } from './retry-policy.js';

export interface SendRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
  /** The endpoint's own TLS settings: its connections are kept apart, per subscription and settings version. */
  tls?: EndpointTlsMaterial;
  /** This request's time limit instead of the sender's timeoutMs (what is left of an attempt). */
  timeoutMs?: number;
  /** Bytes kept of the response body instead of the sender's responseBodyLimit. */
  responseBodyLimit?: number;
}

/** A subscription's TLS settings as the sender uses them (PEM; the key opened). */
export interface EndpointTlsMaterial {
  subscriptionId: string;
  /** The subscription's endpointVersion: new settings get new connections. */
  version: number;
  certificate: string | null;
  key: string | null;
  ca: string | null;
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
  /** DELIVERY_PROXY_URL and DELIVERY_NO_PROXY; undefined: every request connects directly. */
  proxy?: ProxySettings;
  /** How many subscriptions' own TLS connections are kept open at once (the least recently used close first). */
  maxEndpointDispatchers?: number;
}

const REFUSED_CODE = 'ERR_HOOKLANE_ADDRESS_REFUSED';

class AddressRefusedError extends Error {
  readonly code = REFUSED_CODE;
  constructor(address: string) {
    super(`refused: ${refusalReason(address)}`);
    this.name = 'AddressRefusedError';
  }
}

/** A failure of the proxy itself, raised where the tunnel through it is opened. */
class ProxyFailure extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ProxyFailure';
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

/** The socket's lookup: `resolve`'s answers, each vetted by the network policy when `vet` is true. */
const guardedLookup = (resolve: HostResolver, vet = true) => (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
  resolve(hostname, (err, resolved) => {
    const addresses = options.family === 4 || options.family === 6 ? resolved.filter((entry) => entry.family === options.family) : resolved;
    if (err) {
      callback(err, []);
      return;
    }
    const refused = vet ? addresses.find((entry) => !isPublicAddress(entry.address)) : undefined;
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
  const withMessage = [withCode, ...chain].find((e) => typeof e?.message === 'string' && e.message !== '');
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

/**
 * How a request reaches its endpoint. Through the proxy, an `https:` endpoint is reached through a
 * CONNECT tunnel (`tunnel`: the proxy's failures surface where the tunnel is opened, tagged
 * ProxyFailure), an `http:` one with absolute-form requests to the proxy (`forward`: every
 * connection is to the proxy, so every connection failure is the proxy's).
 */
type Route = 'direct' | 'tunnel' | 'forward';

function classifyError(error: unknown, timeoutMs: number, timedOut: boolean, route: Route): { outcome: AttemptOutcome; error: string } {
  const chain = errorChain(error);
  const refused = chain.find((e) => e.code === REFUSED_CODE);
  if (refused) {
    const message = String(refused.message);
    return { outcome: { kind: 'refused', message }, error: message };
  }
  if (timedOut || chain.some((e) => e instanceof AttemptTimeoutError || (typeof e.code === 'string' && TIMEOUT_CODES.has(e.code)))) {
    return { outcome: { kind: 'timeout' }, error: `timed out after ${timeoutMs}ms` };
  }
  const proxyFailure = chain.find((e) => e instanceof ProxyFailure);
  if (proxyFailure || route === 'forward') {
    const message = proxyFailure ? String(proxyFailure.message) : `proxy: ${describeNetworkError(error)}`;
    return { outcome: { kind: 'proxy_error', message }, error: message };
  }
  const message = describeNetworkError(error);
  return { outcome: { kind: 'network_error', cause: networkFailureOf(chain), message }, error: message };
}

/**
 * RFC 9209 Proxy-Status with an `error` parameter: the proxy answered for itself (it could not
 * reach the endpoint, say) rather than passing on the endpoint's answer. Null when it did not say so.
 */
function proxyStatusError(header: string | string[] | undefined): string | null {
  const value = Array.isArray(header) ? header.join(', ') : header;
  if (!value || !/;\s*error\s*=/i.test(value)) return null;
  return value.slice(0, 200);
}

/**
 * The proxy's connection pool, whose CONNECT requests fail with a ProxyFailure: a refused or broken
 * connection to the proxy, or an answer other than 200 (407, 403, its 502 when it cannot reach the
 * endpoint). What happens inside the tunnel (the endpoint's TLS, its answer) is the endpoint's.
 */
function proxyTunnelPool(origin: URL, options: object): Dispatcher {
  const pool = new Pool(origin, options);
  const connect = pool.connect.bind(pool) as (options: Dispatcher.ConnectOptions) => Promise<Dispatcher.ConnectData>;
  return Object.assign(pool, {
    async connect(options: Dispatcher.ConnectOptions): Promise<Dispatcher.ConnectData> {
      let data: Dispatcher.ConnectData;
      try {
        data = await connect(options);
      } catch (error) {
        throw new ProxyFailure(`proxy: ${describeNetworkError(error)}`, { cause: error });
      }
      if (data.statusCode !== 200) {
        data.socket.destroy();
        throw new ProxyFailure(`proxy answered ${data.statusCode} to CONNECT ${options.path}`);
      }
      return data;
    },
  });
}

/**
 * In TLS 1.3 a server checks the client's certificate after the client has finished its handshake:
 * a refusal (an alert such as "certificate required") reaches the socket as an error just before
 * the connection ends, and undici then reports only "other side closed". The alert becomes that
 * error's cause, so that the attempt is a TLS_ERROR that says why.
 */
function keepingTlsAlerts(connect: buildConnector.connector): buildConnector.connector {
  return (options, callback) =>
    connect(options, (error, socket) => {
      if (socket) {
        let alert: Error | undefined;
        socket.on('error', (socketError: Error & { code?: unknown }) => {
          const code = typeof socketError.code === 'string' ? socketError.code : '';
          if (alert === undefined && code.startsWith('ERR_SSL')) alert = socketError;
          else if (alert !== undefined && code === 'UND_ERR_SOCKET' && socketError.cause === undefined) socketError.cause = alert;
        });
      }
      (callback as (error: Error | null, socket: unknown) => void)(error, socket);
    });
}

/** A pool per origin, as undici's agents make them, whose connections keep TLS alerts (see keepingTlsAlerts). */
function poolKeepingTlsAlerts(origin: string | URL, options: object): Dispatcher {
  const { connect } = options as { connect?: unknown };
  const connector = typeof connect === 'function' ? (connect as buildConnector.connector) : buildConnector({ ...(connect as buildConnector.BuildOptions) });
  return new Pool(origin, { ...options, connect: keepingTlsAlerts(connector) });
}

/** The trust store for an endpoint with its own CA: the system's (and NODE_EXTRA_CA_CERTS where Node can list them) and the CA. */
function trustedWith(ca: string): string[] {
  const listed = (tls as { getCACertificates?: (type: string) => string[] }).getCACertificates?.('default');
  return [...(listed ?? tls.rootCertificates), ca];
}

interface EndpointDispatchers {
  version: number;
  direct?: Agent;
  proxy?: ProxyAgent;
}

const MAX_ENDPOINT_DISPATCHERS = 256;

export class HttpSender {
  private readonly agent: Agent;
  private readonly proxyAgent: ProxyAgent | undefined;
  private readonly options: HttpSenderOptions;
  /** Connections of endpoints with their own TLS settings, by subscription; the least recently used close first. */
  private readonly endpointDispatchers = new Map<string, EndpointDispatchers>();

  constructor(options: HttpSenderOptions) {
    this.options = options;
    this.agent = this.directAgent();
    this.proxyAgent = options.proxy ? this.proxyAgentFor() : undefined;
  }

  private poolOptions() {
    const { timeoutMs, connectionsPerOrigin } = this.options;
    return {
      // One request per connection at a time: a slow receiver must not
      // hold up deliveries queued behind it on the same socket.
      pipelining: 1,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 30_000,
      connections: connectionsPerOrigin ?? null,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    };
  }

  /** Endpoint TLS options: the client certificate, and the CA trusted beside the system's. */
  private static tlsOptions(material: EndpointTlsMaterial | undefined): tls.ConnectionOptions {
    if (!material) return {};
    return {
      ...(material.certificate && material.key ? { cert: material.certificate, key: material.key } : {}),
      ...(material.ca ? { ca: trustedWith(material.ca) } : {}),
    };
  }

  private directAgent(material?: EndpointTlsMaterial): Agent {
    const { timeoutMs, allowPrivateNetworks, resolver } = this.options;
    // The lookup hook resolves once and hands the socket exactly the vetted addresses; the TLS
    // handshake still checks the certificate against the URL's host name (SNI too).
    const lookup = allowPrivateNetworks ? (resolver ? guardedLookup(resolver, false) : undefined) : guardedLookup(resolver ?? systemResolver);
    return new Agent({
      ...this.poolOptions(),
      factory: poolKeepingTlsAlerts,
      connect: { timeout: timeoutMs, ...(lookup ? { lookup } : {}), ...HttpSender.tlsOptions(material) },
    });
  }

  /** The proxy's own address is the operator's and is trusted: no lookup hook for it. */
  private proxyAgentFor(material?: EndpointTlsMaterial): ProxyAgent {
    return new ProxyAgent({
      uri: this.options.proxy!.url,
      ...this.poolOptions(),
      // http: absolute-form requests (what every forward proxy takes); https: a CONNECT tunnel.
      proxyTunnel: false,
      clientFactory: proxyTunnelPool,
      // The endpoint's connections (inside the tunnel), and the proxy's for absolute-form requests.
      factory: poolKeepingTlsAlerts,
      proxyTls: { timeout: this.options.timeoutMs },
      requestTls: { timeout: this.options.timeoutMs, ...HttpSender.tlsOptions(material) },
    });
  }

  private routeOf(url: URL): Route {
    const { proxy } = this.options;
    if (!proxy || bypassesProxy(url.hostname, proxy.noProxy)) return 'direct';
    return url.protocol === 'https:' ? 'tunnel' : 'forward';
  }

  private dispatcherFor(route: Route, material: EndpointTlsMaterial | undefined): Dispatcher {
    if (!material) return route === 'direct' ? this.agent : this.proxyAgent!;
    let entry = this.endpointDispatchers.get(material.subscriptionId);
    if (entry && entry.version !== material.version) {
      this.forget(material.subscriptionId, entry);
      entry = undefined;
    }
    if (entry) {
      // Most recently used last: eviction takes the first.
      this.endpointDispatchers.delete(material.subscriptionId);
    } else {
      entry = { version: material.version };
      const max = this.options.maxEndpointDispatchers ?? MAX_ENDPOINT_DISPATCHERS;
      for (const [oldest, dispatchers] of this.endpointDispatchers) {
        if (this.endpointDispatchers.size < max) break;
        this.forget(oldest, dispatchers);
      }
    }
    this.endpointDispatchers.set(material.subscriptionId, entry);
    if (route === 'direct') return (entry.direct ??= this.directAgent(material));
    return (entry.proxy ??= this.proxyAgentFor(material));
  }

  /** Closes an endpoint's connections once their requests in flight are done. */
  private forget(subscriptionId: string, dispatchers: EndpointDispatchers): void {
    this.endpointDispatchers.delete(subscriptionId);
    for (const dispatcher of [dispatchers.direct, dispatchers.proxy]) void dispatcher?.close().catch(() => {});
  }

  /**
   * With the proxy, the proxy resolves the host name; the network policy is applied first, to
   * this process's own resolution. (A name that resolves differently at the proxy is for the
   * proxy's own policy to refuse.)
   */
  private async vetThroughProxy(hostname: string): Promise<{ outcome: AttemptOutcome; error: string } | null> {
    if (this.options.allowPrivateNetworks || literalIp(hostname) !== null) return null;
    const resolve = this.options.resolver ?? systemResolver;
    return new Promise((settle) => {
      resolve(hostname, (err, addresses) => {
        if (err || addresses.length === 0) {
          const message = describeNetworkError(err ?? Object.assign(new Error(`no addresses for ${hostname}`), { code: 'ENOTFOUND' }));
          settle({ outcome: { kind: 'network_error', cause: 'dns', message }, error: message });
          return;
        }
        const refused = addresses.find((entry) => !isPublicAddress(entry.address));
        if (!refused) return settle(null);
        const message = `refused: ${refusalReason(refused.address)}`;
        settle({ outcome: { kind: 'refused', message }, error: message });
      });
    });
  }

  async send(req: SendRequest): Promise<SendResult> {
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    const timeoutMs = req.timeoutMs ?? this.options.timeoutMs;
    const responseBodyLimit = req.responseBodyLimit ?? this.options.responseBodyLimit;

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
    const route = this.routeOf(url);
    if (route !== 'direct') {
      const refusal = await this.vetThroughProxy(url.hostname);
      if (refusal) return { ...refusal, statusCode: null, durationMs: elapsed(), responseBody: null };
    }
    const dispatcher = this.dispatcherFor(route, req.tls);

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
      let proxyError: string | null = null;
      const completed = () => {
        if (proxyError !== null) {
          const message = `proxy answered ${statusCode} for itself (Proxy-Status: ${proxyError})`;
          finish({ outcome: { kind: 'proxy_error', message }, statusCode: null, error: message, durationMs: elapsed(), responseBody: null });
          return;
        }
        const outcome = classifyStatus(statusCode!, retryAfter);
        const error = outcome.kind === 'success' ? null : `HTTP ${statusCode} (not 2xx)`;
        finish({ outcome, statusCode, error, durationMs: elapsed(), responseBody: responseBody() });
      };
      const failed = (error: unknown) => {
        const classified = classifyError(error, timeoutMs, timedOut, route);
        finish({ outcome: classified.outcome, statusCode, error: classified.error, durationMs: elapsed(), responseBody: responseBody() });
      };
      const timer = setTimeout(() => {
        timedOut = true;
        const reason = new AttemptTimeoutError(timeoutMs);
        controller?.abort(reason);
        failed(reason);
      }, timeoutMs);

      try {
        dispatcher.dispatch(
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
              // Absolute-form through the proxy: its own error answers and the endpoint's look alike
              // but for Proxy-Status (or a 407, which undici turns into an error).
              if (route === 'forward') proxyError = proxyStatusError(headers['proxy-status']);
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
    const endpoints = [...this.endpointDispatchers.values()].flatMap((entry) => [entry.direct, entry.proxy]);
    this.endpointDispatchers.clear();
    await Promise.all([this.agent, this.proxyAgent, ...endpoints].map((dispatcher) => dispatcher?.close()));
  }
}
