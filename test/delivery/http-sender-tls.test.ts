import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HttpSender, type EndpointTlsMaterial } from '../../src/delivery/http-sender.js';
import { makeTestPki, TlsReceiver, type TestPki } from '../support/certificates.js';
import { eventually } from '../support/hooklane.js';

// The sender's connections for endpoints with TLS settings of their own: kept per subscription and
// settings version, apart from everyone else's, and closed when they are replaced or evicted.

let pki: TestPki;
let receiver: TlsReceiver;
const senders: HttpSender[] = [];

beforeAll(() => {
  pki = makeTestPki();
});

// A receiver per test: its connection counts are that test's alone.
beforeEach(async () => {
  receiver = await TlsReceiver.start(pki);
});

afterEach(async () => {
  await Promise.all(senders.splice(0).map((sender) => sender.close()));
  await receiver.close();
});

function sender(maxEndpointDispatchers?: number): HttpSender {
  const instance = new HttpSender({ timeoutMs: 2_000, allowPrivateNetworks: true, responseBodyLimit: 100, maxEndpointDispatchers });
  senders.push(instance);
  return instance;
}

const tls = (subscriptionId: string, version = 1): EndpointTlsMaterial => ({
  subscriptionId,
  version,
  certificate: pki.client.certificate,
  key: pki.client.key,
  ca: pki.ca,
});

async function send(instance: HttpSender, material?: EndpointTlsMaterial) {
  return instance.send({ url: receiver.url('127.0.0.1'), body: '{}', headers: { 'content-type': 'application/json' }, tls: material });
}

describe('HttpSender with endpoint TLS settings', () => {
  it('replaces a subscription\'s connections when its settings version changes, closing the old ones', async () => {
    const instance = sender();
    const opened = receiver.connections;
    const closed = receiver.closedConnections;
    expect((await send(instance, tls('sub_a'))).outcome.kind).toBe('success');
    expect((await send(instance, tls('sub_a'))).outcome.kind).toBe('success');
    const firstVersion = receiver.connections - opened;
    expect(receiver.closedConnections).toBe(closed);

    expect((await send(instance, tls('sub_a', 2))).outcome.kind).toBe('success');
    expect(receiver.connections - opened).toBe(firstVersion + 1);
    await eventually(async () => (receiver.closedConnections - closed === firstVersion ? true : undefined), 5_000, 'the first version\'s connections to close');
  });

  it('keeps every other request off those connections: without the settings, the handshake fails', async () => {
    const instance = sender();
    expect((await send(instance, tls('sub_b'))).outcome.kind).toBe('success');
    const plain = await send(instance);
    expect(plain.outcome).toMatchObject({ kind: 'network_error', cause: 'tls' });
  });

  it('closes the least recently used subscription\'s connections when it holds too many', async () => {
    const instance = sender(1);
    const opened = receiver.connections;
    const closed = receiver.closedConnections;
    await send(instance, tls('sub_c'));
    await send(instance, tls('sub_d'));
    await eventually(async () => (receiver.closedConnections - closed >= 1 ? true : undefined), 5_000, 'sub_c\'s connection to close');
    await send(instance, tls('sub_c'));
    expect(receiver.connections - opened).toBe(3);
  });
});
