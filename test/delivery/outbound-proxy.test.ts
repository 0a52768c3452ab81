import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostResolver } from '../../src/delivery/http-sender.js';
import { makeTestPki, TlsReceiver, type TestPki } from '../support/certificates.js';
import { receiverPool, tenantWithEventType } from '../support/fixtures.js';
import { ForwardProxy } from '../support/forward-proxy.js';
import { createSubscriptionWith, gqlData, publishWith, waitForDelivery } from '../support/graphql-helpers.js';
import { startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { refusingPort, type RefusingPort } from '../support/ports.js';
import { TokenEndpoint } from '../support/token-endpoint.js';

// DELIVERY_PROXY_URL and DELIVERY_NO_PROXY with a forward proxy written here. The proxy connects
// every target to 127.0.0.1, whatever host it names; host names reach 127.0.0.1 through the
// resolver seam. No test traffic leaves the machine.

const LOOPBACK: LookupAddress[] = [{ address: '127.0.0.1', family: 4 }];
const notFound = (hostname: string) => Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });

const loopbackNames: HostResolver = (hostname, callback) => {
  if (hostname === 'receiver.test' || hostname === 'direct.test') return callback(null, LOOPBACK);
  return callback(notFound(hostname), []);
};

/**
 * For the instance that applies the network policy: `internal.test` is a private address; and
 * `public.test` answers a public address once per ticket, else does not resolve: the policy's one
 * resolution before the proxy takes the ticket, so even a direct connection (which would resolve
 * again) could not go anywhere.
 */
let publicTickets = 0;
const policyNames: HostResolver = (hostname, callback) => {
  if (hostname === 'internal.test') return callback(null, LOOPBACK);
  if (hostname === 'public.test' && publicTickets > 0) {
    publicTickets -= 1;
    return callback(null, [{ address: '93.184.215.14', family: 4 }]);
  }
  return callback(notFound(hostname), []);
};

const ATTEMPTS = 'query($id: ID!) { delivery(id: $id) { status attempts { outcome statusCode error } } }';
type Attempts = { status: string; attempts: { outcome: string; statusCode: number | null; error: string | null }[] };

let pki: TestPki;
let proxy: ForwardProxy;
let tlsReceiver: TlsReceiver;
let viaProxy: TestHooklane;
let withPolicy: TestHooklane;
let deadProxy: TestHooklane;
let refusing: RefusingPort;
let tokenEndpoint: TokenEndpoint;
const receivers = receiverPool();

beforeAll(async () => {
  pki = makeTestPki();
  [proxy, tlsReceiver, refusing, tokenEndpoint] = await Promise.all([ForwardProxy.start(), TlsReceiver.start(pki), refusingPort(), TokenEndpoint.start()]);
  viaProxy = await startTestHooklane({ DELIVERY_PROXY_URL: proxy.url, DELIVERY_NO_PROXY: 'direct.test' }, { resolver: loopbackNames });
  withPolicy = await startTestHooklane({ DELIVERY_PROXY_URL: proxy.url, DELIVERY_ALLOW_PRIVATE_NETWORKS: 'false' }, { resolver: policyNames });
  deadProxy = await startTestHooklane({ DELIVERY_PROXY_URL: `http://127.0.0.1:${refusing.port}` });
});

afterAll(async () => {
  await Promise.all([viaProxy?.stop(), withPolicy?.stop(), deadProxy?.stop()]);
  await Promise.all([proxy?.close(), tlsReceiver?.close(), refusing?.release(), tokenEndpoint?.close(), receivers.closeAll()]);
});

/** Subscribes `url` on `hooklane` (a tenant of its own each time), publishes one event and waits until its delivery is settled. */
async function deliverOnce(hooklane: TestHooklane, url: string, settings: Record<string, unknown> = {}): Promise<Attempts> {
  const tenant = await tenantWithEventType(hooklane, 'proxy.test');
  const { subscription } = await createSubscriptionWith(hooklane, tenant.token, { url, eventTypes: ['proxy.test'], ...settings }, 'id');
  const event = await publishWith(hooklane, tenant.token, { eventType: 'proxy.test', payload: { n: 1 } });
  const delivery = event.deliveries.find((candidate) => candidate.subscription.id === subscription.id)!;
  await waitForDelivery(hooklane, tenant.token, delivery.id);
  return (await gqlData<{ delivery: Attempts }>(hooklane, tenant.token, ATTEMPTS, { id: delivery.id })).delivery;
}

describe('deliveries through DELIVERY_PROXY_URL', () => {
  it('send http: targets as absolute-form requests through the proxy', async () => {
    const receiver = await receivers.start();
    const delivery = await deliverOnce(viaProxy, receiver.url);
    expect(delivery.status).toBe('SUCCEEDED');
    expect(proxy.forwarded).toContain(receiver.url);
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]!.headers['webhook-id']).toMatch(/^evt_/);
  });

  it('tunnel https: targets with CONNECT, and a client certificate still reaches the endpoint inside the tunnel', async () => {
    const before = tlsReceiver.requests.length;
    const delivery = await deliverOnce(viaProxy, tlsReceiver.url(), {
      tls: { clientCertificate: pki.client.certificate, clientKey: pki.client.key, caCertificate: pki.ca },
    });
    expect(delivery.status).toBe('SUCCEEDED');
    expect(proxy.tunnels).toContain(`receiver.test:${tlsReceiver.port}`);
    const received = tlsReceiver.requests.slice(before);
    expect(received).toHaveLength(1);
    expect(received[0]!.clientCommonName).toBe('hooklane-client');
    expect(received[0]!.servername).toBe('receiver.test');
  });

  it('reach the hosts of DELIVERY_NO_PROXY directly', async () => {
    const receiver = await receivers.start();
    const seen = proxy.seen;
    const url = receiver.url.replace('127.0.0.1', 'direct.test');
    const delivery = await deliverOnce(viaProxy, url);
    expect(delivery.status).toBe('SUCCEEDED');
    expect(receiver.requests).toHaveLength(1);
    expect(proxy.seen).toBe(seen);
  });

  it('reach an OAuth2 token endpoint through the proxy too', async () => {
    const receiver = await receivers.start();
    const delivery = await deliverOnce(viaProxy, receiver.url, {
      auth: { oauth2: { tokenUrl: tokenEndpoint.url, clientId: 'c', clientSecret: 's' } },
    });
    expect(delivery.status).toBe('SUCCEEDED');
    expect(proxy.forwarded).toContain(tokenEndpoint.url);
    expect(receiver.requests[0]!.headers.authorization).toMatch(/^Bearer tok-/);
  });
});

describe('an attempt that fails at the proxy is a PROXY_ERROR, retried like any failure', () => {
  it.each([
    ['asks for authentication (407) on an absolute-form request', 'auth-required', 'http', /407/],
    ['asks for authentication (407) on CONNECT', 'auth-required', 'https', /407/],
    ['cannot reach the endpoint (its own 502, with Proxy-Status)', 'bad-gateway', 'http', /502.*destination_unavailable/],
    ['cannot open the tunnel (502 on CONNECT)', 'bad-gateway', 'https', /502/],
  ] as const)('the proxy %s', async (_name, answer, scheme, message) => {
    proxy.answerNext(answer);
    const url = scheme === 'http' ? (await receivers.start()).url : tlsReceiver.url();
    const tls = scheme === 'https' ? { tls: { clientCertificate: pki.client.certificate, clientKey: pki.client.key, caCertificate: pki.ca } } : {};
    const delivery = await deliverOnce(viaProxy, url, tls);
    expect(delivery.status).toBe('SUCCEEDED');
    expect(delivery.attempts.map((attempt) => attempt.outcome)).toEqual(['PROXY_ERROR', 'SUCCESS']);
    expect(delivery.attempts[0]!.statusCode).toBeNull();
    expect(delivery.attempts[0]!.error).toMatch(message);
  });

  it('refuses connections', async () => {
    const receiver = await receivers.start();
    for (const url of [receiver.url, tlsReceiver.url('127.0.0.1')]) {
      const delivery = await deliverOnce(deadProxy, url);
      expect(delivery.status).toBe('FAILED');
      expect(new Set(delivery.attempts.map((attempt) => attempt.outcome))).toEqual(new Set(['PROXY_ERROR']));
      expect(delivery.attempts[0]!.error).toMatch(/ECONNREFUSED/);
    }
    expect(receiver.requests).toHaveLength(0);
  });

  it('while the endpoint\'s own 502, passed on by the proxy, is an HTTP_ERROR', async () => {
    const receiver = await receivers.start();
    receiver.replyWith({ status: 502, body: 'endpoint down' });
    const delivery = await deliverOnce(viaProxy, receiver.url);
    expect(delivery.status).toBe('FAILED');
    expect(delivery.attempts[0]).toMatchObject({ outcome: 'HTTP_ERROR', statusCode: 502 });
  });
});

describe('the network policy with a proxy (DELIVERY_ALLOW_PRIVATE_NETWORKS=false)', () => {
  it('refuses a target that resolves to a private address before anything reaches the proxy', async () => {
    const receiver = await receivers.start();
    const seen = proxy.seen;
    const delivery = await deliverOnce(withPolicy, receiver.url.replace('127.0.0.1', 'internal.test'));
    expect(delivery.status).toBe('FAILED');
    expect(new Set(delivery.attempts.map((attempt) => attempt.outcome))).toEqual(new Set(['REFUSED']));
    expect(delivery.attempts[0]!.error).toMatch(/127\.0\.0\.1 is a loopback\/private address/);
    expect(proxy.seen).toBe(seen);
    expect(receiver.requests).toHaveLength(0);
  });

  it('sends a target with a public address through the proxy, whose own loopback address is trusted', async () => {
    const receiver = await receivers.start();
    const url = receiver.url.replace('127.0.0.1', 'public.test');
    publicTickets = 1;
    const delivery = await deliverOnce(withPolicy, url);
    expect(delivery.status).toBe('SUCCEEDED');
    expect(proxy.forwarded).toContain(url);
    expect(receiver.requests).toHaveLength(1);
  });
});
