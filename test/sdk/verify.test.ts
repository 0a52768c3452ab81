import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { verifyWebhook, WebhookVerificationError } from '../../src/sdk/index.js';

// test/sdk/ → test/ → /work/main/ → /work/, where shared/ lives.
const vectors = JSON.parse(readFileSync(new URL('../../../shared/vectors/standard-webhooks.json', import.meta.url), 'utf8')) as {
  hmac: { secret: string; msgId: string; timestamp: number; payload: string; signature: string };
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

function verificationError(run: () => unknown): WebhookVerificationError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookVerificationError);
    return error as WebhookVerificationError;
  }
  throw new Error('expected verifyWebhook to throw');
}

const body = JSON.stringify({ type: 'invoice.paid', timestamp: '2026-11-26T12:00:00.000Z', data: { amount: 4200 } });

describe('verifyWebhook', () => {
  it('accepts the Standard Webhooks reference vector', () => {
    const { secret, msgId, timestamp, payload, signature } = vectors.hmac;
    const headers = { 'webhook-id': msgId, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature };
    expect(verifyWebhook(payload, headers, secret, { now: new Date(timestamp * 1000) })).toEqual(JSON.parse(payload));
  });

  it('rejects the reference vector outside its tolerance window', () => {
    const { secret, msgId, timestamp, payload, signature } = vectors.hmac;
    const headers = { 'webhook-id': msgId, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature };
    expect(verificationError(() => verifyWebhook(payload, headers, secret)).code).toBe('TIMESTAMP_TOO_OLD');
  });

  it('accepts signatures made by the standardwebhooks package and returns the parsed body', () => {
    const secret = newSecret();
    const payload = verifyWebhook<{ amount: number }>(body, signed(secret, body), secret);
    expect(payload).toEqual({ type: 'invoice.paid', timestamp: '2026-11-26T12:00:00.000Z', data: { amount: 4200 } });
    expect(payload.data.amount).toBe(4200);
  });

  it('rejects a tampered body', () => {
    const secret = newSecret();
    const headers = signed(secret, body);
    const error = verificationError(() => verifyWebhook(body.replace('4200', '4201'), headers, secret));
    expect(error.code).toBe('INVALID_SIGNATURE');
  });

  it('rejects a tampered id or timestamp', () => {
    const secret = newSecret();
    const headers = signed(secret, body);
    expect(verificationError(() => verifyWebhook(body, { ...headers, 'webhook-id': 'evt_other' }, secret)).code).toBe('INVALID_SIGNATURE');
    const shifted = String(Number(headers['webhook-timestamp']) - 1);
    expect(verificationError(() => verifyWebhook(body, { ...headers, 'webhook-timestamp': shifted }, secret)).code).toBe('INVALID_SIGNATURE');
  });

  it('rejects the wrong secret', () => {
    const headers = signed(newSecret(), body);
    expect(verificationError(() => verifyWebhook(body, headers, newSecret())).code).toBe('INVALID_SIGNATURE');
  });

  it('rejects expired and future timestamps, both ways around the tolerance', () => {
    const secret = newSecret();
    const now = new Date('2026-11-26T12:00:00Z');
    const at = (offsetSeconds: number) => signed(secret, body, new Date(now.getTime() + offsetSeconds * 1000));
    expect(verificationError(() => verifyWebhook(body, at(-301), secret, { now })).code).toBe('TIMESTAMP_TOO_OLD');
    expect(verificationError(() => verifyWebhook(body, at(301), secret, { now })).code).toBe('TIMESTAMP_TOO_NEW');
    expect(verifyWebhook(body, at(-300), secret, { now })).toMatchObject({ type: 'invoice.paid' });
    expect(verifyWebhook(body, at(300), secret, { now })).toMatchObject({ type: 'invoice.paid' });
    expect(verificationError(() => verifyWebhook(body, at(-11), secret, { now, toleranceSeconds: 10 })).code).toBe('TIMESTAMP_TOO_OLD');
  });

  it('rejects a malformed timestamp and missing headers', () => {
    const secret = newSecret();
    const headers = signed(secret, body);
    expect(verificationError(() => verifyWebhook(body, { ...headers, 'webhook-timestamp': '12abc' }, secret)).code).toBe('INVALID_TIMESTAMP');
    const { 'webhook-signature': _dropped, ...unsigned } = headers;
    expect(verificationError(() => verifyWebhook(body, unsigned, secret)).code).toBe('MISSING_HEADERS');
  });

  it('accepts any of several space-separated signatures, ignoring other versions', () => {
    const oldSecret = newSecret();
    const newer = newSecret();
    const at = new Date();
    const headers = signed(oldSecret, body, at);
    const other = new Webhook(newer).sign('evt_123', at, body);
    const both = { ...headers, 'webhook-signature': `v1a,AAAA ${other} v1,bm90IGEgc2lnbmF0dXJl ${headers['webhook-signature']}` };
    expect(verifyWebhook(body, both, oldSecret)).toMatchObject({ type: 'invoice.paid' });
    expect(verifyWebhook(body, both, newer)).toMatchObject({ type: 'invoice.paid' });
    expect(verificationError(() => verifyWebhook(body, both, newSecret())).code).toBe('INVALID_SIGNATURE');
  });

  it('accepts a list of secrets (e.g. during a rotation)', () => {
    const current = newSecret();
    const headers = signed(current, body);
    expect(verifyWebhook(body, headers, [newSecret(), current])).toMatchObject({ type: 'invoice.paid' });
    expect(verificationError(() => verifyWebhook(body, headers, [newSecret(), newSecret()])).code).toBe('INVALID_SIGNATURE');
    expect(verificationError(() => verifyWebhook(body, headers, [])).code).toBe('INVALID_SECRET');
  });

  it('verifies a Buffer body byte for byte, non-ASCII included', () => {
    const secret = newSecret();
    const text = JSON.stringify({ type: 'greeting', timestamp: '2026-11-26T12:00:00.000Z', data: { text: 'grüße 👋' } });
    const headers = signed(secret, text);
    expect(verifyWebhook(Buffer.from(text, 'utf8'), headers, secret)).toMatchObject({ data: { text: 'grüße 👋' } });
    expect(verifyWebhook(new Uint8Array(Buffer.from(text, 'utf8')), headers, secret)).toMatchObject({ type: 'greeting' });
    const tampered = Buffer.from(text, 'utf8');
    const at = tampered.length - 3;
    tampered.writeUInt8(tampered.readUInt8(at) ^ 1, at);
    expect(verificationError(() => verifyWebhook(tampered, headers, secret)).code).toBe('INVALID_SIGNATURE');
  });

  it('reads a fetch Headers object, array values and any header casing', () => {
    const secret = newSecret();
    const headers = signed(secret, body);
    expect(verifyWebhook(body, new Headers(headers), secret)).toMatchObject({ type: 'invoice.paid' });
    const cased = { 'Webhook-Id': headers['webhook-id'], 'WEBHOOK-TIMESTAMP': headers['webhook-timestamp'], 'webhook-signature': [headers['webhook-signature']] };
    expect(verifyWebhook(body, cased, secret)).toMatchObject({ type: 'invoice.paid' });
  });

  it('accepts a secret with or without the whsec_ prefix and refuses a malformed one', () => {
    const secret = newSecret();
    const headers = signed(secret, body);
    expect(verifyWebhook(body, headers, secret.slice('whsec_'.length))).toMatchObject({ type: 'invoice.paid' });
    expect(verificationError(() => verifyWebhook(body, headers, 'whsec_not base64!')).code).toBe('INVALID_SECRET');
  });

  it('reports a signed body that is not JSON', () => {
    const secret = newSecret();
    const headers = signed(secret, 'not json');
    expect(verificationError(() => verifyWebhook('not json', headers, secret)).code).toBe('INVALID_PAYLOAD');
  });
});
