import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { verifyWebhook as verifyOnWebCrypto, WebhookVerificationError } from '../../sdk/src/index.js';
import { verifyWebhook as verifyOnNodeCrypto } from '../../sdk/src/node.js';

const vectors = JSON.parse(readFileSync(new URL('../fixtures/standard-webhooks.json', import.meta.url), 'utf8')) as {
  hmac: { secret: string; msgId: string; timestamp: number; payload: string; signature: string };
  ed25519: { secretKey: string; publicKey: string; msgId: string; timestamp: number; payload: string; signature: string };
};

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

function signed(secret: string, body: string, at = new Date(), id = 'evt_123') {
  const timestamp = String(Math.floor(at.getTime() / 1000));
  return {
    'webhook-id': id,
    'webhook-timestamp': timestamp,
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}

/** A fresh Ed25519 pair as Hooklane hands it out (`whpk_` public key) and a `v1a` signer. */
function ed25519Pair() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  return {
    publicKey: `whpk_${raw.toString('base64')}`,
    sign: (id: string, timestamp: string, body: string) => `v1a,${sign(null, Buffer.from(`${id}.${timestamp}.${body}`), privateKey).toString('base64')}`,
  };
}

async function verificationError(promise: Promise<unknown>): Promise<WebhookVerificationError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookVerificationError);
    return error as WebhookVerificationError;
  }
  throw new Error('expected verifyWebhook to reject');
}

const body = JSON.stringify({ type: 'invoice.paid', timestamp: '2026-11-26T12:00:00.000Z', data: { amount: 4200 } });

describe('the Standard Webhooks fixture', () => {
  it('has an Ed25519 public key that is the public half of its secret key (a 32-byte seed)', () => {
    const seed = Buffer.from(vectors.ed25519.secretKey.slice('whsk_'.length), 'base64');
    const pkcs8Prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
    const privateKey = createPrivateKey({ key: Buffer.concat([pkcs8Prefix, seed]), format: 'der', type: 'pkcs8' });
    const x = createPublicKey(privateKey).export({ format: 'jwk' }).x!;
    expect(`whpk_${Buffer.from(x, 'base64url').toString('base64')}`).toBe(vectors.ed25519.publicKey);
  });
});

// The package's two entry points: `node` loads sdk/src/node.ts, every other runtime sdk/src/index.ts.
describe.each([
  { crypto: 'node:crypto', verifyWebhook: verifyOnNodeCrypto },
  { crypto: 'Web Crypto', verifyWebhook: verifyOnWebCrypto },
])('verifyWebhook on $crypto', ({ verifyWebhook }) => {
  const codeOf = async (promise: Promise<unknown>) => (await verificationError(promise)).code;

  it('accepts the Standard Webhooks reference vector (v1, HMAC-SHA256)', async () => {
    const { secret, msgId, timestamp, payload, signature } = vectors.hmac;
    const headers = { 'webhook-id': msgId, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature };
    expect(await verifyWebhook(payload, headers, secret, { now: new Date(timestamp * 1000) })).toEqual(JSON.parse(payload));
  });

  it('accepts the Standard Webhooks reference vector (v1a, Ed25519) with the public key', async () => {
    const { publicKey, msgId, timestamp, payload, signature } = vectors.ed25519;
    const headers = { 'webhook-id': msgId, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature };
    const now = new Date(timestamp * 1000);
    expect(await verifyWebhook(payload, headers, publicKey, { now })).toEqual(JSON.parse(payload));
    expect(await codeOf(verifyWebhook(payload.replace('2432', '2433'), headers, publicKey, { now }))).toBe('INVALID_SIGNATURE');
    // A v1a signature is no HMAC: an HMAC secret does not accept it.
    expect(await codeOf(verifyWebhook(payload, headers, vectors.hmac.secret, { now }))).toBe('INVALID_SIGNATURE');
  });

  it('rejects the reference vector outside its tolerance window', async () => {
    const { secret, msgId, timestamp, payload, signature } = vectors.hmac;
    const headers = { 'webhook-id': msgId, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature };
    expect(await codeOf(verifyWebhook(payload, headers, secret))).toBe('TIMESTAMP_TOO_OLD');
  });

  it('accepts signatures made by the standardwebhooks package and returns the parsed body', async () => {
    const secret = newSecret();
    const payload = await verifyWebhook<{ amount: number }>(body, signed(secret, body), secret);
    expect(payload).toEqual({ type: 'invoice.paid', timestamp: '2026-11-26T12:00:00.000Z', data: { amount: 4200 } });
    expect(payload.data.amount).toBe(4200);
  });

  it('rejects a tampered body', async () => {
    const secret = newSecret();
    const headers = signed(secret, body);
    expect(await codeOf(verifyWebhook(body.replace('4200', '4201'), headers, secret))).toBe('INVALID_SIGNATURE');
  });

  it('rejects a tampered id or timestamp', async () => {
    const secret = newSecret();
    const headers = signed(secret, body);
    expect(await codeOf(verifyWebhook(body, { ...headers, 'webhook-id': 'evt_other' }, secret))).toBe('INVALID_SIGNATURE');
    const shifted = String(Number(headers['webhook-timestamp']) - 1);
    expect(await codeOf(verifyWebhook(body, { ...headers, 'webhook-timestamp': shifted }, secret))).toBe('INVALID_SIGNATURE');
  });

  it('rejects the wrong secret', async () => {
    const headers = signed(newSecret(), body);
    expect(await codeOf(verifyWebhook(body, headers, newSecret()))).toBe('INVALID_SIGNATURE');
  });

  it('rejects expired and future timestamps, both ways around the tolerance', async () => {
    const secret = newSecret();
    const now = new Date('2026-11-26T12:00:00Z');
    const at = (offsetSeconds: number) => signed(secret, body, new Date(now.getTime() + offsetSeconds * 1000));
    expect(await codeOf(verifyWebhook(body, at(-301), secret, { now }))).toBe('TIMESTAMP_TOO_OLD');
    expect(await codeOf(verifyWebhook(body, at(301), secret, { now }))).toBe('TIMESTAMP_TOO_NEW');
    expect(await verifyWebhook(body, at(-300), secret, { now })).toMatchObject({ type: 'invoice.paid' });
    expect(await verifyWebhook(body, at(300), secret, { now })).toMatchObject({ type: 'invoice.paid' });
    expect(await codeOf(verifyWebhook(body, at(-11), secret, { now, toleranceSeconds: 10 }))).toBe('TIMESTAMP_TOO_OLD');
  });

  it('rejects a malformed timestamp and missing headers', async () => {
    const secret = newSecret();
    const headers = signed(secret, body);
    expect(await codeOf(verifyWebhook(body, { ...headers, 'webhook-timestamp': '12abc' }, secret))).toBe('INVALID_TIMESTAMP');
    const { 'webhook-signature': _dropped, ...unsigned } = headers;
    expect(await codeOf(verifyWebhook(body, unsigned, secret))).toBe('MISSING_HEADERS');
  });

  it('accepts any of several space-separated signatures, skipping other versions and malformed entries', async () => {
    const oldSecret = newSecret();
    const newer = newSecret();
    const at = new Date();
    const headers = signed(oldSecret, body, at);
    const other = new Webhook(newer).sign('evt_123', at, body);
    const both = { ...headers, 'webhook-signature': `v2,AAAA v1a,AAAA ${other} v1,bm90IGEgc2lnbmF0dXJl v1,%%% ${headers['webhook-signature']}` };
    expect(await verifyWebhook(body, both, oldSecret)).toMatchObject({ type: 'invoice.paid' });
    expect(await verifyWebhook(body, both, newer)).toMatchObject({ type: 'invoice.paid' });
    expect(await codeOf(verifyWebhook(body, both, newSecret()))).toBe('INVALID_SIGNATURE');
  });

  it('verifies v1a beside v1, each with its own key, and refuses a malformed public key', async () => {
    const secret = newSecret();
    const pair = ed25519Pair();
    const headers = signed(secret, body);
    const withBoth = { ...headers, 'webhook-signature': `${headers['webhook-signature']} ${pair.sign(headers['webhook-id'], headers['webhook-timestamp'], body)}` };
    expect(await verifyWebhook(body, withBoth, pair.publicKey)).toMatchObject({ type: 'invoice.paid' });
    expect(await verifyWebhook(body, withBoth, [ed25519Pair().publicKey, secret])).toMatchObject({ type: 'invoice.paid' });
    expect(await codeOf(verifyWebhook(body, withBoth, ed25519Pair().publicKey))).toBe('INVALID_SIGNATURE');
    expect(await codeOf(verifyWebhook(body, headers, pair.publicKey))).toBe('INVALID_SIGNATURE');
    const truncated = { ...withBoth, 'webhook-signature': `v1a,${Buffer.alloc(10).toString('base64')}` };
    expect(await codeOf(verifyWebhook(body, truncated, pair.publicKey))).toBe('INVALID_SIGNATURE');
    expect(await codeOf(verifyWebhook(body, withBoth, `whpk_${Buffer.alloc(31).toString('base64')}`))).toBe('INVALID_SECRET');
  });

  it('accepts a list of secrets (e.g. during a rotation)', async () => {
    const current = newSecret();
    const headers = signed(current, body);
    expect(await verifyWebhook(body, headers, [newSecret(), current])).toMatchObject({ type: 'invoice.paid' });
    expect(await codeOf(verifyWebhook(body, headers, [newSecret(), newSecret()]))).toBe('INVALID_SIGNATURE');
    expect(await codeOf(verifyWebhook(body, headers, []))).toBe('INVALID_SECRET');
  });

  it('verifies a Buffer, Uint8Array or ArrayBuffer body byte for byte, non-ASCII included', async () => {
    const secret = newSecret();
    const text = JSON.stringify({ type: 'greeting', timestamp: '2026-11-26T12:00:00.000Z', data: { text: 'grüße 👋' } });
    const headers = signed(secret, text);
    const bytes = Buffer.from(text, 'utf8');
    expect(await verifyWebhook(bytes, headers, secret)).toMatchObject({ data: { text: 'grüße 👋' } });
    expect(await verifyWebhook(new Uint8Array(bytes), headers, secret)).toMatchObject({ type: 'greeting' });
    expect(await verifyWebhook(new Uint8Array(bytes).buffer, headers, secret)).toMatchObject({ type: 'greeting' });
    // A view into a larger buffer (Node pools small Buffers) covers only its own bytes.
    const pooled = Buffer.concat([Buffer.from('xx'), bytes, Buffer.from('yy')]).subarray(2, 2 + bytes.length);
    expect(await verifyWebhook(pooled, headers, secret)).toMatchObject({ type: 'greeting' });
    const tampered = Buffer.from(text, 'utf8');
    const at = tampered.length - 3;
    tampered.writeUInt8(tampered.readUInt8(at) ^ 1, at);
    expect(await codeOf(verifyWebhook(tampered, headers, secret))).toBe('INVALID_SIGNATURE');
  });

  it('reads a fetch Headers object, array values and any header casing', async () => {
    const secret = newSecret();
    const headers = signed(secret, body);
    expect(await verifyWebhook(body, new Headers(headers), secret)).toMatchObject({ type: 'invoice.paid' });
    const cased = { 'Webhook-Id': headers['webhook-id'], 'WEBHOOK-TIMESTAMP': headers['webhook-timestamp'], 'webhook-signature': [headers['webhook-signature']] };
    expect(await verifyWebhook(body, cased, secret)).toMatchObject({ type: 'invoice.paid' });
  });

  it('accepts a secret with or without the whsec_ prefix and refuses a malformed one', async () => {
    const secret = newSecret();
    const headers = signed(secret, body);
    expect(await verifyWebhook(body, headers, secret.slice('whsec_'.length))).toMatchObject({ type: 'invoice.paid' });
    expect(await codeOf(verifyWebhook(body, headers, 'whsec_not base64!'))).toBe('INVALID_SECRET');
    expect(await codeOf(verifyWebhook(body, headers, vectors.ed25519.secretKey))).toBe('INVALID_SECRET');
  });

  it('reports a signed body that is not JSON', async () => {
    const secret = newSecret();
    const headers = signed(secret, 'not json');
    expect(await codeOf(verifyWebhook('not json', headers, secret))).toBe('INVALID_PAYLOAD');
  });
});
