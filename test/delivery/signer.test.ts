import { readFileSync } from 'node:fs';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { describe, expect, it } from 'vitest';
import {
  ed25519PublicKey,
  generateEd25519KeyPair,
  generateSecret,
  signatureHeader,
  signEd25519,
  signedWebhookHeaders,
  signPayload,
  webhookHeaders,
} from '../../src/delivery/signer.js';

interface Vectors {
  hmac: { secret: string; msgId: string; timestamp: number; payload: string; signature: string };
  ed25519: { secretKey: string; publicKey: string; msgId: string; timestamp: number; payload: string; signature: string };
}

// The Standard Webhooks reference vectors, kept in the repository (test/fixtures/).
const vectors = JSON.parse(readFileSync(new URL('../fixtures/standard-webhooks.json', import.meta.url), 'utf8')) as Vectors;

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

describe('Ed25519 signatures (v1a)', () => {
  it('matches the Standard Webhooks reference vector and derives its public key', () => {
    const vector = vectors.ed25519;
    expect(signEd25519(vector.secretKey, vector.msgId, vector.timestamp, vector.payload)).toBe(vector.signature);
    expect(ed25519PublicKey(vector.secretKey)).toBe(vector.publicKey);
  });

  it('adds a v1a signature beside v1 that verifies with the whpk_ public key alone', async () => {
    const { createPublicKey, verify } = await import('node:crypto');
    const pair = generateEd25519KeyPair();
    expect(pair.secretKey).toMatch(/^whsk_[A-Za-z0-9+/]{43}=$/);
    expect(pair.publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
    const secret = generateSecret();
    const message = { msgId: 'evt_1', timestampSeconds: Math.floor(Date.now() / 1000), body: '{"a":1}' };
    const headers = signedWebhookHeaders(message, { hmacSecrets: [secret], ed25519SecretKey: pair.secretKey }, 'test');
    const [v1, v1a] = headers['webhook-signature']!.split(' ');
    expect(v1).toBe(signPayload(secret, message.msgId, message.timestampSeconds, message.body));
    expect(v1a!.startsWith('v1a,')).toBe(true);
    const raw = Buffer.from(pair.publicKey.slice('whpk_'.length), 'base64');
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
    const content = Buffer.from(`${message.msgId}.${message.timestampSeconds}.${message.body}`);
    expect(verify(null, content, publicKey, Buffer.from(v1a!.slice(4), 'base64'))).toBe(true);
    expect(verify(null, Buffer.from('tampered'), publicKey, Buffer.from(v1a!.slice(4), 'base64'))).toBe(false);
    // The JS verifiers check only v1 entries: the extra v1a entry must not disturb them.
    expect(new StandardWebhook(secret).verify(message.body, {
      'webhook-id': message.msgId,
      'webhook-timestamp': String(message.timestampSeconds),
      'webhook-signature': headers['webhook-signature']!,
    })).toEqual({ a: 1 });
  });
});
