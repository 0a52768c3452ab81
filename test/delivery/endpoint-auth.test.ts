import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receiverPool, tenantWithEventType } from '../support/fixtures.js';
import { createSubscriptionWith, gqlData, GraphQLCallError, mutate, publishWith, waitForDelivery } from '../support/graphql-helpers.js';
import { startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { refusingPort } from '../support/ports.js';
import type { TestReceiver } from '../support/receiver.js';
import { TokenEndpoint } from '../support/token-endpoint.js';

// A subscription's extra headers and endpoint authentication (bearer, basic, OAuth2 client
// credentials), sent to real receivers and a token endpoint written here, all on 127.0.0.1.

const FIELDS = 'id headerNames authType';
const ATTEMPTS = 'query($id: ID!) { delivery(id: $id) { status attemptCount attempts { outcome statusCode error } } }';

let hooklane: TestHooklane;
let tenant: { id: string; token: string };
const receivers = receiverPool();
const tokenEndpoints: TokenEndpoint[] = [];

beforeAll(async () => {
  hooklane = await startTestHooklane();
  tenant = await tenantWithEventType(hooklane, 'auth.test');
});

afterAll(async () => {
  await hooklane?.stop();
  await receivers.closeAll();
  await Promise.all(tokenEndpoints.map((endpoint) => endpoint.close()));
});

async function tokenEndpoint(): Promise<TokenEndpoint> {
  const endpoint = await TokenEndpoint.start();
  tokenEndpoints.push(endpoint);
  return endpoint;
}

async function subscribe(receiver: TestReceiver, settings: Record<string, unknown>) {
  return (await createSubscriptionWith(hooklane, tenant.token, { url: receiver.url, eventTypes: ['auth.test'], ...settings }, FIELDS)).subscription;
}

async function refusal(mutation: Promise<unknown>): Promise<{ code: string | undefined; field: unknown }> {
  return mutation.then(
    () => ({ code: 'accepted', field: undefined }),
    (error: GraphQLCallError) => ({ code: error.code, field: error.response.errors?.[0]?.extensions?.field }),
  );
}

async function subscriptionCount(): Promise<number> {
  const [row] = await hooklane.sql<{ count: number }[]>`select count(*)::int as count from subscriptions where tenant_id = ${tenant.id}`;
  return row!.count;
}

type Attempts = { status: string; attemptCount: number; attempts: { outcome: string; statusCode: number | null; error: string | null }[] };

/** Publishes one event and waits until the subscription's delivery is settled. */
async function deliver(subscriptionId: string): Promise<Attempts> {
  const event = await publishWith(hooklane, tenant.token, { eventType: 'auth.test', payload: { at: Date.now() } });
  const delivery = event.deliveries.find((candidate) => candidate.subscription.id === subscriptionId)!;
  await waitForDelivery(hooklane, tenant.token, delivery.id);
  return (await gqlData<{ delivery: Attempts }>(hooklane, tenant.token, ATTEMPTS, { id: delivery.id })).delivery;
}

describe('extra headers', () => {
  it('are sent with every attempt, a retry included', async () => {
    const receiver = await receivers.start();
    receiver.replyWith({ status: 500 }, { status: 200 });
    const subscription = await subscribe(receiver, { headers: { 'X-Api-Key': 'key-of-the-receiver', 'X-Team': 'blue' } });
    expect(subscription.headerNames).toEqual(['X-Api-Key', 'X-Team']);
    const delivery = await deliver(subscription.id);
    expect(delivery.attempts.map((attempt) => attempt.outcome)).toEqual(['HTTP_ERROR', 'SUCCESS']);
    expect(receiver.requests).toHaveLength(2);
    for (const request of receiver.requests) {
      expect(request.headers['x-api-key']).toBe('key-of-the-receiver');
      expect(request.headers['x-team']).toBe('blue');
      // Hooklane's own headers are still there.
      expect(request.headers['webhook-id']).toMatch(/^evt_/);
      expect(request.headers['content-type']).toBe('application/json');
    }
  });

  it('are never readable: only their names are shown, the values are sealed, the audit log has names only', async () => {
    const receiver = await receivers.start();
    const subscription = await subscribe(receiver, { headers: { 'X-Secret-Header': 'value-nobody-reads' } });
    const read = await hooklane.gql(tenant.token, 'query($id: ID!) { subscription(id: $id) { id headerNames authType tls { caConfigured } } }', { id: subscription.id });
    expect(read.data?.subscription.headerNames).toEqual(['X-Secret-Header']);
    expect(JSON.stringify(read)).not.toContain('value-nobody-reads');
    const [row] = await hooklane.sql<{ headers: string; header_names: string[] }[]>`select headers, header_names from subscriptions where id = ${subscription.id}`;
    expect(row!.headers).toMatch(/^enc2:/);
    expect(row!.headers).not.toContain('value-nobody-reads');
    const audit = await gqlData<{ auditLog: { edges: { node: { action: string; targetId: string; details: unknown } }[] } }>(
      hooklane,
      tenant.token,
      '{ auditLog(first: 50) { edges { node { action targetId details } } } }',
    );
    const entry = audit.auditLog.edges.find((edge) => edge.node.targetId === subscription.id)!;
    expect(entry.node.details).toMatchObject({ headers: { 'X-Secret-Header': '[redacted]' } });
    expect(JSON.stringify(audit)).not.toContain('value-nobody-reads');
  });

  it('are replaced as a whole by an update, and removed by null', async () => {
    const receiver = await receivers.start();
    const subscription = await subscribe(receiver, { headers: { 'X-One': '1', 'X-Two': '2' } });
    const replaced = await mutate<{ subscription: { headerNames: string[] } }>(hooklane, tenant.token, 'updateSubscription', { id: subscription.id, headers: { 'X-Three': '3' } }, 'subscription { headerNames }');
    expect(replaced.subscription.headerNames).toEqual(['X-Three']);
    await deliver(subscription.id);
    expect(receiver.requests.at(-1)!.headers['x-three']).toBe('3');
    expect(receiver.requests.at(-1)!.headers['x-one']).toBeUndefined();
    const removed = await mutate<{ subscription: { headerNames: string[] } }>(hooklane, tenant.token, 'updateSubscription', { id: subscription.id, headers: null }, 'subscription { headerNames }');
    expect(removed.subscription.headerNames).toEqual([]);
    await deliver(subscription.id);
    expect(receiver.requests.at(-1)!.headers['x-three']).toBeUndefined();
  });

  it.each([
    'webhook-id',
    'Webhook-Signature',
    'webhook-anything',
    'Content-Type',
    'content-length',
    'Host',
    'User-Agent',
    'connection',
    'Transfer-Encoding',
    'traceparent',
    'proxy-authorization',
  ])('refuse the reserved name %s, writing nothing', async (name) => {
    const receiver = await receivers.start();
    const before = await subscriptionCount();
    expect(await refusal(subscribe(receiver, { headers: { [name]: 'x' } }))).toEqual({ code: 'BAD_USER_INPUT', field: 'headers' });
    expect(await subscriptionCount()).toBe(before);
  });

  it.each([
    ['a name that is not a token', { 'X Bad': 'x' }],
    ['a value with a line break', { 'X-Split': 'a\r\nInjected: yes' }],
    ['a value that is not a string', { 'X-Number': 1 }],
    ['the same name twice', { 'X-Twice': 'a', 'x-twice': 'b' }],
    ['more than 20 headers', Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`X-H${i}`, 'v']))],
    ['more than 8 KB', { 'X-Big': 'v'.repeat(8200) }],
    ['an array', ['X-A', 'b']],
  ])('refuse %s', async (_name, headers) => {
    const receiver = await receivers.start();
    expect(await refusal(subscribe(receiver, { headers }))).toEqual({ code: 'BAD_USER_INPUT', field: 'headers' });
  });

  it('may carry an authorization header of their own when the subscription has no auth, but not beside auth', async () => {
    const receiver = await receivers.start();
    const subscription = await subscribe(receiver, { headers: { Authorization: 'ApiKey abc123' } });
    await deliver(subscription.id);
    expect(receiver.requests.at(-1)!.headers.authorization).toBe('ApiKey abc123');
    expect(await refusal(subscribe(receiver, { headers: { authorization: 'x' }, auth: { bearer: { token: 't' } } }))).toEqual({ code: 'BAD_USER_INPUT', field: 'headers' });
    expect(
      await refusal(mutate(hooklane, tenant.token, 'updateSubscription', { id: subscription.id, auth: { bearer: { token: 't' } } }, 'subscription { id }')),
    ).toEqual({ code: 'BAD_USER_INPUT', field: 'headers' });
    const [row] = await hooklane.sql<{ auth_type: string | null }[]>`select auth_type from subscriptions where id = ${subscription.id}`;
    expect(row!.auth_type).toBeNull();
  });
});

describe('endpoint authentication', () => {
  it('bearer: sends Authorization: Bearer <token>', async () => {
    const receiver = await receivers.start();
    const subscription = await subscribe(receiver, { auth: { bearer: { token: 'opaque.token-123' } } });
    expect(subscription.authType).toBe('BEARER');
    expect((await deliver(subscription.id)).status).toBe('SUCCEEDED');
    expect(receiver.requests[0]!.headers.authorization).toBe('Bearer opaque.token-123');
  });

  it('basic: sends Authorization: Basic <base64 of username:password>', async () => {
    const receiver = await receivers.start();
    const subscription = await subscribe(receiver, { auth: { basic: { username: 'hooklane', password: 'pässwörd with spaces' } } });
    expect(subscription.authType).toBe('BASIC');
    await deliver(subscription.id);
    const header = String(receiver.requests[0]!.headers.authorization);
    expect(header.startsWith('Basic ')).toBe(true);
    expect(Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8')).toBe('hooklane:pässwörd with spaces');
  });

  it('is write-only and sealed, and auth: null removes it', async () => {
    const receiver = await receivers.start();
    const subscription = await subscribe(receiver, { auth: { basic: { username: 'u', password: 'the-password' } } });
    const [row] = await hooklane.sql<{ auth_credentials: string }[]>`select auth_credentials from subscriptions where id = ${subscription.id}`;
    expect(row!.auth_credentials).toMatch(/^enc2:/);
    expect(row!.auth_credentials).not.toContain('the-password');
    const audit = await hooklane.gql(tenant.token, '{ auditLog(first: 50) { edges { node { details } } } }');
    expect(JSON.stringify(audit)).not.toContain('the-password');

    const updated = await mutate<{ subscription: { authType: string } }>(hooklane, tenant.token, 'updateSubscription', { id: subscription.id, auth: null }, 'subscription { authType }');
    expect(updated.subscription.authType).toBe('NONE');
    await deliver(subscription.id);
    expect(receiver.requests.at(-1)!.headers.authorization).toBeUndefined();
  });

  it.each([
    ['two methods at once', { bearer: { token: 't' }, basic: { username: 'u', password: 'p' } }, 'auth'],
    ['no method', {}, 'auth'],
    ['a bearer token with a space', { bearer: { token: 'a b' } }, 'auth.bearer.token'],
    ['an empty bearer token', { bearer: { token: '' } }, 'auth.bearer.token'],
    ['a username with a colon', { basic: { username: 'a:b', password: 'p' } }, 'auth.basic.username'],
    ['a password with a line break', { basic: { username: 'u', password: 'p\nq' } }, 'auth.basic.password'],
    ['a token URL that is not http(s)', { oauth2: { tokenUrl: 'ftp://127.0.0.1/token', clientId: 'c', clientSecret: 's' } }, 'auth.oauth2.tokenUrl'],
    ['a token URL with credentials', { oauth2: { tokenUrl: 'https://u:p@127.0.0.1/token', clientId: 'c', clientSecret: 's' } }, 'auth.oauth2.tokenUrl'],
    ['an empty client secret', { oauth2: { tokenUrl: 'https://127.0.0.1/token', clientId: 'c', clientSecret: '' } }, 'auth.oauth2.clientSecret'],
  ])('refuses %s with BAD_USER_INPUT, writing nothing', async (_name, auth, field) => {
    const receiver = await receivers.start();
    const before = await subscriptionCount();
    expect(await refusal(subscribe(receiver, { auth }))).toEqual({ code: 'BAD_USER_INPUT', field });
    expect(await subscriptionCount()).toBe(before);
  });
});

describe('OAuth2 client credentials', () => {
  const oauth2 = (endpoint: TokenEndpoint) => ({
    oauth2: { tokenUrl: endpoint.url, clientId: 'hooklane client', clientSecret: 's3cret:&=', scope: 'webhooks:write', audience: 'https://receiver.example' },
  });

  it('asks the token endpoint with the client credentials grant and sends the token as a bearer token', async () => {
    const endpoint = await tokenEndpoint();
    const receiver = await receivers.start();
    const subscription = await subscribe(receiver, { auth: oauth2(endpoint) });
    expect(subscription.authType).toBe('OAUTH2');
    expect((await deliver(subscription.id)).status).toBe('SUCCEEDED');
    expect(receiver.requests[0]!.headers.authorization).toBe('Bearer tok-1');
    const [request] = endpoint.requests;
    expect(request!.contentType).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(request!.form)).toEqual({ grant_type: 'client_credentials', scope: 'webhooks:write', audience: 'https://receiver.example' });
    // RFC 6749 §2.3.1: id and secret form-encoded, then Basic.
    const [id, secret] = Buffer.from(request!.authorization!.slice('Basic '.length), 'base64').toString('utf8').split(':');
    expect([decodeURIComponent(id!.replaceAll('+', ' ')), decodeURIComponent(secret!.replaceAll('+', ' '))]).toEqual(['hooklane client', 's3cret:&=']);
  });

  it('keeps the token across deliveries: one token request for many deliveries', async () => {
    const endpoint = await tokenEndpoint();
    const receiver = await receivers.start();
    const subscription = await subscribe(receiver, { auth: oauth2(endpoint) });
    const published = await gqlData<{ publishEvents: { events: { deliveries: { id: string; subscription: { id: string } }[] }[] } }>(
      hooklane,
      tenant.token,
      'mutation($input: PublishEventsInput!) { publishEvents(input: $input) { events { deliveries { id subscription { id } } } } }',
      { input: { events: Array.from({ length: 5 }, (_, n) => ({ eventType: 'auth.test', payload: { n } })) } },
    );
    const ids = published.publishEvents.events.flatMap((event) => event.deliveries.filter((d) => d.subscription.id === subscription.id).map((d) => d.id));
    for (const id of ids) expect((await waitForDelivery(hooklane, tenant.token, id)).status).toBe('SUCCEEDED');
    await deliver(subscription.id);
    expect(endpoint.requests).toHaveLength(1);
    expect(receiver.requests).toHaveLength(6);
    expect(new Set(receiver.requests.map((request) => request.headers.authorization))).toEqual(new Set(['Bearer tok-1']));
  });

  it('fetches a new token once when the endpoint answers 401 to a kept one, within the same attempt', async () => {
    const endpoint = await tokenEndpoint();
    const receiver = await receivers.start();
    const subscription = await subscribe(receiver, { auth: oauth2(endpoint) });
    await deliver(subscription.id); // tok-1, kept

    // tok-1 is revoked: the next attempt gets a 401 with it, fetches tok-2 and sends again.
    receiver.replyWith((request) => ({ status: request.headers.authorization === 'Bearer tok-1' ? 401 : 200 }));
    const revoked = await deliver(subscription.id);
    expect(revoked).toMatchObject({ status: 'SUCCEEDED', attemptCount: 1 });
    expect(endpoint.requests).toHaveLength(2);
    expect(receiver.requests.slice(1).map((request) => request.headers.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);

    // Every token refused: one new token per attempt, no more.
    receiver.replyWith({ status: 401 });
    const refused = await deliver(subscription.id);
    expect(refused.status).toBe('FAILED');
    expect(refused.attempts.map((attempt) => [attempt.outcome, attempt.statusCode])).toEqual([
      ['HTTP_ERROR', 401],
      ['HTTP_ERROR', 401],
      ['HTTP_ERROR', 401],
    ]);
    expect(endpoint.requests).toHaveLength(2 + 3);
    expect(receiver.requests).toHaveLength(3 + 3 * 2);
  });

  it('records a failing token endpoint as the attempt\'s error (OAUTH2_ERROR), sends nothing, and retries', async () => {
    const endpoint = await tokenEndpoint();
    endpoint.replyWith(
      () => ({ status: 503, body: { error: 'temporarily_unavailable', error_description: 'try later' } }),
      () => ({ status: 200, body: { token_type: 'Bearer' } }),
      (issued) => ({ status: 200, body: { access_token: `tok-${issued}`, token_type: 'bearer', expires_in: 60 } }),
    );
    const receiver = await receivers.start();
    const subscription = await subscribe(receiver, { auth: oauth2(endpoint) });
    const delivery = await deliver(subscription.id);
    expect(delivery.status).toBe('SUCCEEDED');
    expect(delivery.attempts.map((attempt) => attempt.outcome)).toEqual(['OAUTH2_ERROR', 'OAUTH2_ERROR', 'SUCCESS']);
    expect(delivery.attempts[0]!.statusCode).toBeNull();
    expect(delivery.attempts[0]!.error).toContain(`token endpoint ${endpoint.url}`);
    expect(delivery.attempts[0]!.error).toContain('HTTP 503');
    expect(delivery.attempts[0]!.error).toContain('temporarily_unavailable: try later');
    expect(delivery.attempts[1]!.error).toContain('no usable access_token');
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]!.headers.authorization).toBe('Bearer tok-3');
  });

  it('records an unreachable token endpoint as OAUTH2_ERROR', async () => {
    const port = await refusingPort();
    try {
      const receiver = await receivers.start();
      const subscription = await subscribe(receiver, {
        auth: { oauth2: { tokenUrl: `http://127.0.0.1:${port.port}/token`, clientId: 'c', clientSecret: 's' } },
      });
      const delivery = await deliver(subscription.id);
      expect(delivery.status).toBe('FAILED');
      expect(new Set(delivery.attempts.map((attempt) => attempt.outcome))).toEqual(new Set(['OAUTH2_ERROR']));
      expect(delivery.attempts[0]!.error).toMatch(/token endpoint .*ECONNREFUSED/);
      expect(receiver.requests).toHaveLength(0);
    } finally {
      await port.release();
    }
  });

  it('asks again after the credentials change (a new token for new settings)', async () => {
    const endpoint = await tokenEndpoint();
    const receiver = await receivers.start();
    const subscription = await subscribe(receiver, { auth: oauth2(endpoint) });
    await deliver(subscription.id);
    await mutate(hooklane, tenant.token, 'updateSubscription', { id: subscription.id, auth: { oauth2: { ...oauth2(endpoint).oauth2, clientSecret: 'rotated' } } }, 'subscription { id }');
    await deliver(subscription.id);
    expect(endpoint.requests).toHaveLength(2);
    expect(Buffer.from(endpoint.requests[1]!.authorization!.slice('Basic '.length), 'base64').toString('utf8')).toMatch(/:rotated$/);
    expect(receiver.requests.map((request) => request.headers.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
  });
});
