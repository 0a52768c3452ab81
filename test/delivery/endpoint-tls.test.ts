import type { LookupAddress } from 'node:dns';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostResolver } from '../../src/delivery/http-sender.js';
import { makeTestPki, TlsReceiver, type TestPki } from '../support/certificates.js';
import { tenantWithEventType } from '../support/fixtures.js';
import { createSubscriptionWith, gqlData, GraphQLCallError, mutate, publishWith, waitForDelivery } from '../support/graphql-helpers.js';
import { startTestHooklane, type TestHooklane } from '../support/hooklane.js';

// Mutual TLS and private CAs: a receiver on 127.0.0.1 with a certificate from the test's own CA
// that requires a client certificate from that CA. Host names reach it through the resolver seam.

const LOOPBACK: LookupAddress[] = [{ address: '127.0.0.1', family: 4 }];
const resolver: HostResolver = (hostname, callback) => {
  if (hostname === 'receiver.test' || hostname === 'other.test') return callback(null, LOOPBACK);
  return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
};

const TLS_FIELDS = 'id url tls { clientCertificateExpiresAt caConfigured }';
const ATTEMPTS = 'query($id: ID!) { delivery(id: $id) { status attempts { outcome statusCode error } } }';

let hooklane: TestHooklane;
let pki: TestPki;
let receiver: TlsReceiver;
let tenant: { id: string; token: string };

beforeAll(async () => {
  pki = makeTestPki();
  receiver = await TlsReceiver.start(pki);
  hooklane = await startTestHooklane({}, { resolver });
  tenant = await tenantWithEventType(hooklane, 'tls.test');
});

afterAll(async () => {
  await hooklane?.stop();
  await receiver?.close();
});

const fullTls = () => ({ clientCertificate: pki.client.certificate, clientKey: pki.client.key, caCertificate: pki.ca });

async function subscribe(url: string, tls?: unknown) {
  return (await createSubscriptionWith(hooklane, tenant.token, { url, eventTypes: ['tls.test'], ...(tls === undefined ? {} : { tls }) }, TLS_FIELDS)).subscription;
}

/** Publishes one event and waits for the subscription's delivery to settle; returns its attempts. */
async function deliverTo(subscriptionId: string) {
  const event = await publishWith(hooklane, tenant.token, { eventType: 'tls.test', payload: { n: 1 } });
  const delivery = event.deliveries.find((candidate) => candidate.subscription.id === subscriptionId)!;
  await waitForDelivery(hooklane, tenant.token, delivery.id);
  const data = await gqlData<{ delivery: { status: string; attempts: { outcome: string; statusCode: number | null; error: string | null }[] } }>(
    hooklane,
    tenant.token,
    ATTEMPTS,
    { id: delivery.id },
  );
  await mutate(hooklane, tenant.token, 'deleteSubscription', { id: subscriptionId }, 'id');
  return data.delivery;
}

async function createError(input: Record<string, unknown>): Promise<{ code: string | undefined; field: unknown }> {
  return createSubscriptionWith(hooklane, tenant.token, { eventTypes: ['tls.test'], ...input }).then(
    () => ({ code: 'created', field: undefined }),
    (error: GraphQLCallError) => ({ code: error.code, field: error.response.errors?.[0]?.extensions?.field }),
  );
}

describe('a subscription with a client certificate and its own CA', () => {
  it('presents the certificate, trusts the CA for that endpoint and checks the host name (SNI included)', async () => {
    const before = receiver.requests.length;
    const subscription = await subscribe(receiver.url(), fullTls());
    expect(subscription.tls.caConfigured).toBe(true);
    const validTo = new Date(new X509Certificate(pki.client.certificate).validTo);
    expect(new Date(subscription.tls.clientCertificateExpiresAt).getTime()).toBe(validTo.getTime());

    const delivery = await deliverTo(subscription.id);
    expect(delivery.status).toBe('SUCCEEDED');
    const received = receiver.requests.slice(before);
    expect(received).toHaveLength(1);
    expect(received[0]!.clientCommonName).toBe('hooklane-client');
    expect(received[0]!.servername).toBe('receiver.test');
  });

  it('works on the IP address its certificate names', async () => {
    const subscription = await subscribe(receiver.url('127.0.0.1'), fullTls());
    expect((await deliverTo(subscription.id)).status).toBe('SUCCEEDED');
  });

  it('trusts the CA for that endpoint only: a subscription without it fails the handshake (TLS_ERROR)', async () => {
    const subscription = await subscribe(receiver.url());
    expect(subscription.tls).toEqual({ clientCertificateExpiresAt: null, caConfigured: false });
    const delivery = await deliverTo(subscription.id);
    expect(delivery.status).toBe('FAILED');
    expect(delivery.attempts.map((attempt) => attempt.outcome)).toEqual(['TLS_ERROR', 'TLS_ERROR', 'TLS_ERROR']);
  });

  it('fails the handshake without a client certificate when the receiver requires one (TLS_ERROR)', async () => {
    const before = receiver.requests.length;
    const subscription = await subscribe(receiver.url(), { caCertificate: pki.ca });
    expect(subscription.tls).toEqual({ clientCertificateExpiresAt: null, caConfigured: true });
    const delivery = await deliverTo(subscription.id);
    expect(delivery.status).toBe('FAILED');
    expect(new Set(delivery.attempts.map((attempt) => attempt.outcome))).toEqual(new Set(['TLS_ERROR']));
    expect(delivery.attempts[0]!.error).toMatch(/certificate required/i);
    expect(receiver.requests.length).toBe(before);
  });

  it('still checks the host name with the CA: a name the certificate does not hold is a TLS_ERROR', async () => {
    const subscription = await subscribe(receiver.url('other.test'), fullTls());
    const delivery = await deliverTo(subscription.id);
    expect(delivery.status).toBe('FAILED');
    expect(delivery.attempts[0]).toMatchObject({ outcome: 'TLS_ERROR' });
    expect(delivery.attempts[0]!.error).toMatch(/other\.test|altname/i);
  });

  it('takes new settings at once: removing them (tls: null) makes the next attempt fail the handshake', async () => {
    const subscription = await subscribe(receiver.url(), fullTls());
    const first = await publishWith(hooklane, tenant.token, { eventType: 'tls.test', payload: { n: 1 } });
    const firstDelivery = first.deliveries.find((candidate) => candidate.subscription.id === subscription.id)!;
    expect((await waitForDelivery(hooklane, tenant.token, firstDelivery.id)).status).toBe('SUCCEEDED');

    const updated = await mutate<{ subscription: { tls: unknown } }>(hooklane, tenant.token, 'updateSubscription', { id: subscription.id, tls: null }, 'subscription { tls { clientCertificateExpiresAt caConfigured } }');
    expect(updated.subscription.tls).toEqual({ clientCertificateExpiresAt: null, caConfigured: false });
    const delivery = await deliverTo(subscription.id);
    expect(delivery.attempts[0]).toMatchObject({ outcome: 'TLS_ERROR' });
  });

  it('stores the certificates readable and the key sealed', async () => {
    const subscription = await subscribe(receiver.url(), fullTls());
    const [row] = await hooklane.sql<{ tls_client_key: string; tls_client_certificate: string; tls_ca_certificate: string }[]>`
      select tls_client_key, tls_client_certificate, tls_ca_certificate from subscriptions where id = ${subscription.id}`;
    expect(row!.tls_client_key).toMatch(/^enc2:/);
    expect(row!.tls_client_key).not.toContain('PRIVATE KEY');
    expect(row!.tls_client_certificate).toContain('BEGIN CERTIFICATE');
    expect(row!.tls_ca_certificate).toContain('BEGIN CERTIFICATE');
    const audit = await gqlData<{ auditLog: { edges: { node: { targetId: string; details: unknown } }[] } }>(
      hooklane,
      tenant.token,
      '{ auditLog(first: 50) { edges { node { targetId details } } } }',
    );
    const entry = audit.auditLog.edges.find((edge) => edge.node.targetId === subscription.id)!;
    expect(entry.node.details).toMatchObject({ tls: { clientCertificate: '[PEM omitted]', clientKey: '[redacted]', caCertificate: '[PEM omitted]' } });
  });
});

describe('TLS settings that cannot work are refused with BAD_USER_INPUT, and nothing is written', () => {
  it.each([
    ['a certificate that is not PEM', () => ({ ...fullTls(), clientCertificate: 'not a certificate' }), 'tls.clientCertificate'],
    ['a damaged certificate', () => ({ ...fullTls(), clientCertificate: pki.client.certificate.replace(/[A-Za-z]{8}\n/, 'AAAAAAAA\n') }), 'tls.clientCertificate'],
    ['a key that is not PEM', () => ({ ...fullTls(), clientKey: '-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----' }), 'tls.clientKey'],
    ['a key that does not match the certificate', () => ({ ...fullTls(), clientKey: pki.strayKey }), 'tls.clientKey'],
    ['a certificate without its key', () => ({ clientCertificate: pki.client.certificate }), 'tls.clientKey'],
    ['a key without its certificate', () => ({ clientKey: pki.client.key }), 'tls.clientCertificate'],
    ['a private key as the CA', () => ({ caCertificate: `${pki.ca}${pki.client.key}` }), 'tls.caCertificate'],
    ['a CA that is not PEM', () => ({ caCertificate: 'nope' }), 'tls.caCertificate'],
    ['nothing at all', () => ({}), 'tls'],
    ['a CA over the size limit', () => ({ caCertificate: pki.ca.repeat(200) }), 'tls.caCertificate'],
  ])('%s', async (_name, tls, field) => {
    const [before] = await hooklane.sql<{ count: number }[]>`select count(*)::int as count from subscriptions where tenant_id = ${tenant.id}`;
    expect(await createError({ url: receiver.url(), tls: tls() })).toEqual({ code: 'BAD_USER_INPUT', field });
    const [after] = await hooklane.sql<{ count: number }[]>`select count(*)::int as count from subscriptions where tenant_id = ${tenant.id}`;
    expect(after!.count).toBe(before!.count);
  });

  it('on an http URL', async () => {
    expect(await createError({ url: `http://127.0.0.1:${receiver.port}/`, tls: { caCertificate: pki.ca } })).toEqual({ code: 'BAD_USER_INPUT', field: 'tls' });
    const subscription = await subscribe(receiver.url(), { caCertificate: pki.ca });
    const refused = await mutate(hooklane, tenant.token, 'updateSubscription', { id: subscription.id, url: `http://127.0.0.1:${receiver.port}/` }, 'subscription { id }').then(
      () => undefined,
      (error: GraphQLCallError) => error.code,
    );
    expect(refused).toBe('BAD_USER_INPUT');
    const [row] = await hooklane.sql<{ url: string }[]>`select url from subscriptions where id = ${subscription.id}`;
    expect(row!.url).toBe(receiver.url());
  });
});
