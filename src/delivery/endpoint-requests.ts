import { performance } from 'node:perf_hooks';
import { BoundedMap } from '../bounded-map.js';
import type { StoredEndpointSettings } from '../db/scoped/subscriptions.js';
import type { TenantScope } from '../db/tenant-scope.js';
import type { BasicCredentials, BearerCredentials, OAuth2Credentials } from '../domain/endpoint-settings.js';
import type { SecretBox } from '../secrets/secret-box.js';
import type { EndpointTlsMaterial, HttpSender, SendRequest, SendResult } from './http-sender.js';
import type { OAuth2Tokens } from './oauth2-tokens.js';

/** A subscription's endpoint settings, opened for sending. */
export interface OpenedEndpoint {
  version: number;
  /** The extra headers, and `authorization` for bearer and basic auth. */
  headers: Record<string, string>;
  oauth2: OAuth2Credentials | null;
  tls: EndpointTlsMaterial | undefined;
}

const MAX_OPENED = 4096;

export function openEndpoint(stored: StoredEndpointSettings, secretBox: SecretBox, subscriptionId: string): OpenedEndpoint {
  const open = (sealed: string) => secretBox.open(sealed, subscriptionId);
  const headers: Record<string, string> = stored.headers ? (JSON.parse(open(stored.headers)) as Record<string, string>) : {};
  let oauth2: OAuth2Credentials | null = null;
  if (stored.authType !== null && stored.authCredentials !== null) {
    const credentials: unknown = JSON.parse(open(stored.authCredentials));
    if (stored.authType === 'BEARER') headers.authorization = `Bearer ${(credentials as BearerCredentials).token}`;
    if (stored.authType === 'BASIC') {
      const { username, password } = credentials as BasicCredentials;
      headers.authorization = `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
    }
    if (stored.authType === 'OAUTH2') oauth2 = credentials as OAuth2Credentials;
  }
  const hasTls = stored.tlsClientCertificate !== null || stored.tlsCaCertificate !== null;
  return {
    version: stored.endpointVersion,
    headers,
    oauth2,
    tls: hasTls
      ? {
          subscriptionId,
          version: stored.endpointVersion,
          certificate: stored.tlsClientCertificate,
          key: stored.tlsClientKey === null ? null : open(stored.tlsClientKey),
          ca: stored.tlsCaCertificate,
        }
      : undefined,
  };
}

/**
 * Attempts to endpoints with settings of their own (headers, auth, TLS). Their settings are read
 * and opened once per subscription and version and kept; an OAuth2 endpoint gets its token first,
 * and one new token and a second request when it answers 401 to a token that was kept. The whole
 * attempt, token requests included, stays within the delivery timeout.
 */
export class EndpointRequests {
  private readonly opened = new BoundedMap<string, OpenedEndpoint>(MAX_OPENED, 'oldest');
  private readonly opening = new Map<string, Promise<OpenedEndpoint | undefined>>();

  constructor(
    private readonly deps: { sender: HttpSender; secretBox: SecretBox; tokens: OAuth2Tokens; timeoutMs: number },
  ) {}

  async send(scope: TenantScope, subscriptionId: string, version: number, request: SendRequest): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const { sender, tokens, timeoutMs } = this.deps;
    const endpoint = await this.endpoint(scope, subscriptionId, version);
    // Deleted since the claim: its deliveries go with it.
    if (!endpoint) return sender.send(request);
    const base = { ...request, headers: { ...endpoint.headers, ...request.headers }, tls: endpoint.tls };
    if (!endpoint.oauth2) return sender.send(base);

    const key = `${subscriptionId}:${endpoint.version}`;
    const timedOut = (): SendResult => ({
      outcome: { kind: 'timeout' },
      statusCode: null,
      error: `timed out after ${timeoutMs}ms`,
      durationMs: elapsed(),
      responseBody: null,
    });
    const sendWith = async (token: string) => {
      const left = timeoutMs - elapsed();
      if (left <= 0) return timedOut();
      return sender.send({ ...base, headers: { ...base.headers, authorization: `Bearer ${token}` }, timeoutMs: left });
    };
    const tokenFailure = (failure: { outcome: SendResult['outcome']; error: string }): SendResult => ({
      outcome: failure.outcome,
      statusCode: null,
      error: failure.error,
      durationMs: elapsed(),
      responseBody: null,
    });

    let lookup = await tokens.get(key, endpoint.oauth2, Math.max(1, timeoutMs - elapsed()));
    if (!lookup.ok) return tokenFailure(lookup);
    let result = await sendWith(lookup.token);
    if (result.statusCode === 401 && !lookup.fresh) {
      tokens.invalidate(key, lookup.token);
      if (timeoutMs - elapsed() <= 0) return timedOut();
      lookup = await tokens.get(key, endpoint.oauth2, timeoutMs - elapsed());
      if (!lookup.ok) return tokenFailure(lookup);
      result = await sendWith(lookup.token);
    }
    return { ...result, durationMs: elapsed() };
  }

  /** The opened settings at `version` or later; one read at a time per subscription and version. */
  private async endpoint(scope: TenantScope, subscriptionId: string, version: number): Promise<OpenedEndpoint | undefined> {
    const kept = this.opened.get(subscriptionId);
    if (kept && kept.version >= version) return kept;
    const key = `${subscriptionId}:${version}`;
    let opening = this.opening.get(key);
    if (!opening) {
      opening = (async () => {
        const stored = await scope.subscriptions.endpointSettings(subscriptionId);
        if (!stored) return undefined;
        const opened = openEndpoint(stored, this.deps.secretBox, subscriptionId);
        if ((this.opened.get(subscriptionId)?.version ?? -1) < opened.version) this.opened.set(subscriptionId, opened);
        return opened;
      })();
      this.opening.set(key, opening);
      const settled = () => this.opening.delete(key);
      opening.then(settled, settled);
    }
    return opening;
  }
}
