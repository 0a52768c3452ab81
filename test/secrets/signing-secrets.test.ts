import { createPublicKey, verify } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventType, gqlData, gqlErrorCode, publish, waitForDelivery, webhookHeadersOf } from '../support/graphql-helpers.js';
import { startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

const CREATE = `mutation($input: CreateSubscriptionInput!) {
  createSubscription(input: $input) { subscription { id ed25519PublicKey previousSecretExpiresAt } secret } }`;
const ROTATE = `mutation($input: RotateSubscriptionSecretInput!) {
  rotateSubscriptionSecret(input: $input) { subscription { id previousSecretExpiresAt } secret } }`;

function verifyEd25519(publicKey: string, request: { rawBody: string; headers: Record<string, unknown> }): boolean {
  const raw = Buffer.from(publicKey.slice('whpk_'.length), 'base64');
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  const content = Buffer.from(`${String(request.headers['webhook-id'])}.${String(request.headers['webhook-timestamp'])}.${request.rawBody}`);
  return String(request.headers['webhook-signature'])
    .split(' ')
    .filter((entry) => entry.startsWith('v1a,'))
    .some((entry) => verify(null, content, key, Buffer.from(entry.slice(4), 'base64')));
}

describe('signing secrets', () => {
  let hooklane: TestHooklane;
  let receiver: TestReceiver;
  let tenant: { id: string; token: string };

  beforeAll(async () => {
    hooklane = await startTestHooklane();
    receiver = await TestReceiver.start();
    tenant = await hooklane.createTenant('Secrets');
    await createEventType(hooklane, tenant.token, { name: 'key.test' });
  });
  afterAll(async () => {
    await receiver?.close();
    await hooklane?.stop();
  });

  it('stores secrets sealed with AES-256-GCM, never in clear', async () => {
    const { createSubscription } = await gqlData(hooklane, tenant.token, CREATE, { input: { url: receiver.url, eventTypes: ['key.test'] } });
    const [row] = await hooklane.sql`select secrets from subscriptions where id = ${createSubscription.subscription.id}`;
    expect(row!.secrets).toHaveLength(1);
    expect(row!.secrets[0]).toMatch(/^enc2:/);
    expect(row!.secrets[0]).not.toContain(createSubscription.secret.slice('whsec_'.length));
  });

  it('keeps the old secret signing beside the new one during the overlap, then drops it', async () => {
    const url = `${receiver.url}?rotation`;
    const { createSubscription } = await gqlData(hooklane, tenant.token, CREATE, { input: { url, eventTypes: ['key.test'] } });
    const oldSecret: string = createSubscription.secret;
    const { rotateSubscriptionSecret } = await gqlData(hooklane, tenant.token, ROTATE, {
      input: { id: createSubscription.subscription.id, overlap: '1h' },
    });
    const newSecret: string = rotateSubscriptionSecret.secret;
    expect(newSecret).not.toBe(oldSecret);
    expect(Date.parse(rotateSubscriptionSecret.subscription.previousSecretExpiresAt)).toBeGreaterThan(Date.now() + 59 * 60_000);

    const during = await publish(hooklane, tenant.token, { eventType: 'key.test', payload: { phase: 'overlap' } });
    for (const delivery of during.deliveries) await waitForDelivery(hooklane, tenant.token, delivery.id, 'SUCCEEDED');
    const overlapRequest = receiver.requests.find((request) => request.headers['webhook-id'] === during.id && request.url.includes('rotation'))!;
    expect(String(overlapRequest.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [oldSecret, newSecret]) {
      expect(new StandardWebhook(secret).verify(overlapRequest.rawBody, webhookHeadersOf(overlapRequest.headers))).toBeTruthy();
    }

    // A rotation without overlap: only the newest secret signs from now on.
    const { rotateSubscriptionSecret: immediate } = await gqlData(hooklane, tenant.token, ROTATE, {
      input: { id: createSubscription.subscription.id, overlap: '0s' },
    });
    expect(immediate.subscription.previousSecretExpiresAt).toBeNull();
    const after = await publish(hooklane, tenant.token, { eventType: 'key.test', payload: { phase: 'after' } });
    for (const delivery of after.deliveries) await waitForDelivery(hooklane, tenant.token, delivery.id, 'SUCCEEDED');
    const afterRequest = receiver.requests.find((request) => request.headers['webhook-id'] === after.id && request.url.includes('rotation'))!;
    expect(String(afterRequest.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(new StandardWebhook(immediate.secret).verify(afterRequest.rawBody, webhookHeadersOf(afterRequest.headers))).toBeTruthy();
    expect(() => new StandardWebhook(newSecret).verify(afterRequest.rawBody, webhookHeadersOf(afterRequest.headers))).toThrow();
  });

  it('refuses an overlap that is not a duration or longer than 7d', async () => {
    const { createSubscription } = await gqlData(hooklane, tenant.token, CREATE, { input: { url: receiver.url, eventTypes: ['key.test'] } });
    for (const overlap of ['soon', '8d']) {
      expect(await gqlErrorCode(hooklane, tenant.token, ROTATE, { input: { id: createSubscription.subscription.id, overlap } })).toBe(
        'BAD_USER_INPUT',
      );
    }
  });

  it('signs with Ed25519 (v1a) when asked, verifiable with the public key alone', async () => {
    const url = `${receiver.url}?ed25519`;
    const { createSubscription } = await gqlData(hooklane, tenant.token, CREATE, {
      input: { url, eventTypes: ['key.test'], ed25519Signing: true },
    });
    const publicKey: string = createSubscription.subscription.ed25519PublicKey;
    expect(publicKey).toMatch(/^whpk_/);
    const [row] = await hooklane.sql`select ed25519_secret_key from subscriptions where id = ${createSubscription.subscription.id}`;
    expect(row!.ed25519_secret_key).toMatch(/^enc2:/);

    const event = await publish(hooklane, tenant.token, { eventType: 'key.test', payload: { signed: 'ed25519' } });
    await waitForDelivery(hooklane, tenant.token, event.deliveries.find((d) => d.subscription.id === createSubscription.subscription.id)!.id, 'SUCCEEDED');
    const request = receiver.requests.find((r) => r.headers['webhook-id'] === event.id && r.url.includes('ed25519'))!;
    expect(verifyEd25519(publicKey, request)).toBe(true);
    // The HMAC signature is still there for receivers that verify v1.
    expect(new StandardWebhook(createSubscription.secret).verify(request.rawBody, webhookHeadersOf(request.headers))).toBeTruthy();

    // Turning it off removes the key and the v1a signature.
    await gqlData(hooklane, tenant.token, 'mutation($input: UpdateSubscriptionInput!) { updateSubscription(input: $input) { subscription { id } } }', {
      input: { id: createSubscription.subscription.id, ed25519Signing: false },
    });
    const [cleared] = await hooklane.sql`select ed25519_secret_key, ed25519_public_key from subscriptions where id = ${createSubscription.subscription.id}`;
    expect(cleared).toEqual({ ed25519_secret_key: null, ed25519_public_key: null });
  });
});
