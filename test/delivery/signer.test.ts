import { readFileSync } from 'node:fs';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { describe, expect, it } from 'vitest';
import { generateSecret, signatureHeader, signPayload, webhookHeaders } from '../../src/delivery/signer.js';

interface Vectors {
  hmac: { secret: string; msgId: string; timestamp: number; payload: string; signature: string };
}

const vectors = JSON.parse(
  readFileSync(new URL('../../../shared/vectors/standard-webhooks.json', import.meta.url), 'utf8'),
) as Vectors;

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

describe('signPayload', () => {
  it('matches the Standard Webhooks reference vector', () => {
    const { secret, msgId, timestamp, payload, signature } = vectors.hmac;
    expect(signPayload(secret, msgId, timestamp, payload)).toBe(signature);
    expect(signPayload(secret, msgId, timestamp, Buffer.from(payload))).toBe(signature);
  });

  it('rejects a secret without the whsec_ prefix', () => {
    expect(() => signPayload('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'm', 1, '{}')).toThrow(/whsec_/);
  });
});

describe('generateSecret', () => {
  it('is whsec_ plus base64 of 32 random bytes', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(generateSecret()).not.toBe(secret);
  });
});

describe('webhookHeaders', () => {
  const body = JSON.stringify({ type: 'order.created', timestamp: '2024-01-01T00:00:00.000Z', data: { id: 42, note: 'héllo ✓' } });

  it('carries the Standard Webhooks headers', () => {
    const secret = generateSecret();
    const message = { msgId: 'evt_123', timestampSeconds: 1_700_000_000, body };
    const headers = webhookHeaders(message, [secret], 'Hooklane/1.0');
    expect(headers).toEqual({
      'content-type': 'application/json',
      'user-agent': 'Hooklane/1.0',
      'webhook-id': 'evt_123',
      'webhook-timestamp': '1700000000',
      'webhook-signature': signPayload(secret, 'evt_123', 1_700_000_000, body),
    });
  });

  it('verifies with the standardwebhooks and svix receivers', () => {
    const secret = generateSecret();
    const headers = webhookHeaders({ msgId: 'evt_abc', timestampSeconds: nowSeconds(), body }, [secret], 'Hooklane/1.0');
    expect(new StandardWebhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new SvixWebhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('a multi-secret header verifies with each secret and not with another', () => {
    const secrets = [generateSecret(), generateSecret()];
    const headers = webhookHeaders({ msgId: 'evt_rot', timestampSeconds: nowSeconds(), body }, secrets, 'Hooklane/1.0');
    expect(headers['webhook-signature']?.split(' ')).toHaveLength(2);
    for (const secret of secrets) {
      expect(new StandardWebhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
      expect(new SvixWebhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    }
    expect(() => new StandardWebhook(generateSecret()).verify(body, headers)).toThrow();
    expect(() => new SvixWebhook(generateSecret()).verify(body, headers)).toThrow();
  });

  it('a tampered body does not verify', () => {
    const secret = generateSecret();
    const headers = webhookHeaders({ msgId: 'evt_t', timestampSeconds: nowSeconds(), body }, [secret], 'Hooklane/1.0');
    expect(() => new StandardWebhook(secret).verify(body.replace('42', '43'), headers)).toThrow();
  });

  it('signatureHeader joins one v1 entry per secret', () => {
    const [a, b] = [generateSecret(), generateSecret()];
    expect(signatureHeader([a, b], 'm', 5, '{}')).toBe(`${signPayload(a, 'm', 5, '{}')} ${signPayload(b, 'm', 5, '{}')}`);
    expect(signatureHeader([], 'm', 5, '{}')).toBe('');
  });
});
