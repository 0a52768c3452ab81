/**
 * Secrets that earlier releases stored unbound (`enc1:`) or unsealed are sealed again for their
 * rows at start-up, across tenants and in batches; a wrong SECRETS_KEY stops start-up and changes
 * nothing; deliveries keep their signatures.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHooklane } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { connectDatabase } from '../../src/db/client.js';
import { StartupError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { resealSubscriptionSecrets } from '../../src/secrets/reseal-secrets.js';
import { parseSecretsKey, SecretBox } from '../../src/secrets/secret-box.js';
import { createEventType, gqlData, publish, waitForDelivery, webhookHeadersOf } from '../support/graphql-helpers.js';
import { startTestHooklane, TEST_SECRETS_KEY, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

const CREATE = `mutation($input: CreateSubscriptionInput!) {
  createSubscription(input: $input) { subscription { id } secret } }`;
const ROTATE = `mutation($input: RotateSubscriptionSecretInput!) {
  rotateSubscriptionSecret(input: $input) { secret } }`;

const box = new SecretBox(parseSecretsKey(TEST_SECRETS_KEY));

/** A value as earlier releases sealed it: `enc1:`, AES-256-GCM without additional data. */
function sealUnbound(plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', parseSecretsKey(TEST_SECRETS_KEY), iv);
  const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return ['enc1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), ciphertext.toString('base64')].join(':');
}

interface Row {
  id: string;
  secrets: string[];
  ed25519_secret_key: string | null;
}

describe('sealing secrets of earlier releases again', () => {
  let hooklane: TestHooklane;
  let receiver: TestReceiver;
  const workerConfig = (secretsKey: string) =>
    loadConfig({ DATABASE_URL: hooklane.databaseUrl, ROLE: 'worker', SECRETS_KEY: secretsKey, DELIVERY_ALLOW_PRIVATE_NETWORKS: 'true', LOG_LEVEL: 'silent' });

  beforeAll(async () => {
    hooklane = await startTestHooklane();
    receiver = await TestReceiver.start();
  });
  afterAll(async () => {
    await receiver?.close();
    await hooklane?.stop();
  });

  const rows = async (ids: string[]) =>
    Object.fromEntries(
      (await hooklane.sql<Row[]>`select id, secrets, ed25519_secret_key from subscriptions where id = any(${ids}) order by id`).map((row) => [row.id, row]),
    );

  it('seals every tenant\'s unbound and unsealed values for their rows, in batches; a wrong key first stops start-up and changes nothing', async () => {
    const a = await hooklane.createTenant('A');
    const b = await hooklane.createTenant('B');
    for (const tenant of [a, b]) await createEventType(hooklane, tenant.token, { name: 'reseal.test' });
    const create = async (token: string, query: string, input: Record<string, unknown> = {}) =>
      (await gqlData(hooklane, token, CREATE, { input: { url: `${receiver.url}?${query}`, eventTypes: ['reseal.test'], ...input } })).createSubscription as {
        subscription: { id: string };
        secret: string;
      };
    const plainA = await create(a.token, 'plain-a');
    const mixedA = await create(a.token, 'mixed-a', { ed25519Signing: true });
    const rotated = (await gqlData(hooklane, a.token, ROTATE, { input: { id: mixedA.subscription.id, overlap: '1h' } })).rotateSubscriptionSecret.secret as string;
    const currentA = await create(a.token, 'current-a');
    const unboundB = await create(b.token, 'unbound-b');
    const ids = [plainA, mixedA, currentA, unboundB].map((created) => created.subscription.id);

    const before = await rows(ids);
    const ed25519Key = box.open(before[mixedA.subscription.id]!.ed25519_secret_key!, mixedA.subscription.id);
    // As earlier releases left them: unsealed, unbound, and a mixture in one row.
    await hooklane.sql`update subscriptions set secrets = ${[plainA.secret]} where id = ${plainA.subscription.id}`;
    await hooklane.sql`
      update subscriptions set secrets = ${[sealUnbound(rotated), mixedA.secret]}, ed25519_secret_key = ${sealUnbound(ed25519Key)}
      where id = ${mixedA.subscription.id}`;
    await hooklane.sql`update subscriptions set secrets = ${[sealUnbound(unboundB.secret)]} where id = ${unboundB.subscription.id}`;
    const legacy = await rows(ids);

    // Another key: start-up stops before it changes anything.
    const otherKey = randomBytes(32).toString('base64');
    const refused = await startHooklane(workerConfig(otherKey), createLogger('silent')).then(
      async (app) => {
        await app.stop();
        return undefined;
      },
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(StartupError);
    expect((refused as Error).message).toMatch(/^The signing secret of subscription sub_\w+ cannot be opened with this SECRETS_KEY.*\. Fix: start with the SECRETS_KEY that sealed them/);
    expect(await rows(ids)).toEqual(legacy);

    // Two subscriptions a batch: three to seal again.
    const owner = connectDatabase(hooklane.databaseUrl, { max: 1 });
    try {
      expect(await resealSubscriptionSecrets(owner.db, box, createLogger('silent'), 2)).toBe(3);
      expect(await resealSubscriptionSecrets(owner.db, box, createLogger('silent'), 2)).toBe(0);
    } finally {
      await owner.close();
    }
    const after = await rows(ids);
    const opened = (id: string) => after[id]!.secrets.map((sealed) => box.open(sealed, id));
    expect(opened(plainA.subscription.id)).toEqual([plainA.secret]);
    expect(opened(mixedA.subscription.id)).toEqual([rotated, mixedA.secret]);
    expect(box.open(after[mixedA.subscription.id]!.ed25519_secret_key!, mixedA.subscription.id)).toBe(ed25519Key);
    expect(opened(unboundB.subscription.id)).toEqual([unboundB.secret]);
    expect(after[currentA.subscription.id]).toEqual(before[currentA.subscription.id]);
    for (const row of Object.values(after)) for (const sealed of row.secrets) expect(sealed).toMatch(/^enc2:/);
  });

  it('start-up seals a leftover value again under the migration lock, and deliveries sign with the same secrets', async () => {
    const tenant = await hooklane.createTenant('Leftover');
    await createEventType(hooklane, tenant.token, { name: 'reseal.test' });
    const { createSubscription } = await gqlData(hooklane, tenant.token, CREATE, {
      input: { url: `${receiver.url}?leftover`, eventTypes: ['reseal.test'] },
    });
    const id: string = createSubscription.subscription.id;
    const secret: string = createSubscription.secret;
    // What a process of an earlier release would still write.
    await hooklane.sql`update subscriptions set secrets = ${[sealUnbound(secret)]} where id = ${id}`;

    const worker = await startHooklane(workerConfig(TEST_SECRETS_KEY), createLogger('silent'));
    try {
      const [row] = await hooklane.sql<Row[]>`select id, secrets, ed25519_secret_key from subscriptions where id = ${id}`;
      expect(row!.secrets[0]).toMatch(/^enc2:/);
      expect(box.open(row!.secrets[0]!, id)).toBe(secret);

      const event = await publish(hooklane, tenant.token, { eventType: 'reseal.test', payload: { after: 'reseal' } });
      await waitForDelivery(hooklane, tenant.token, event.deliveries[0]!.id, 'SUCCEEDED');
      const request = receiver.requests.find((r) => r.headers['webhook-id'] === event.id && r.url.includes('leftover'))!;
      expect(new StandardWebhook(secret).verify(request.rawBody, webhookHeadersOf(request.headers))).toBeTruthy();
    } finally {
      await worker.stop();
    }
  });
});
