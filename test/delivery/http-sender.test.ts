import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpSender, type HttpSenderOptions } from '../../src/delivery/http-sender.js';
import { refusingPort } from '../support/ports.js';

interface Received {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage['headers'];
  body: string;
  remotePort: number | undefined;
}

interface Receiver {
  server: Server;
  port: number;
  url: string;
  received: Received[];
  close: () => Promise<void>;
}

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

// Receivers listen on 127.0.0.1 only: these tests must never reach another host.
async function startReceiver(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<Receiver> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ method: req.method, url: req.url, headers: req.headers, body, remotePort: req.socket.remotePort });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  cleanups.push(close);
  return { server, port, url: `http://127.0.0.1:${port}/hook`, received, close };
}

function sender(overrides: Partial<HttpSenderOptions> = {}): HttpSender {
  const instance = new HttpSender({ timeoutMs: 2_000, allowPrivateNetworks: true, responseBodyLimit: 1024, ...overrides });
  cleanups.push(() => instance.close());
  return instance;
}

const payload = JSON.stringify({ type: 'order.created', data: { id: 1 } });
const headers = { 'content-type': 'application/json', 'user-agent': 'Hooklane-test', 'webhook-id': 'evt_1' };

describe('HttpSender', () => {
  it('POSTs the body and headers and captures a 200 response', async () => {
    const receiver = await startReceiver((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks ✓'));
    const result = await sender().send({ url: receiver.url, body: payload, headers });
    expect(result.outcome).toEqual({ kind: 'success', statusCode: 200 });
    expect(result.statusCode).toBe(200);
    expect(result.error).toBeNull();
    expect(result.responseBody).toBe('thanks ✓');
    expect(Number.isInteger(result.durationMs)).toBe(true);
    expect(receiver.received).toHaveLength(1);
    const [request] = receiver.received;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/hook');
    expect(request?.body).toBe(payload);
    expect(request?.headers['webhook-id']).toBe('evt_1');
    expect(request?.headers['user-agent']).toBe('Hooklane-test');
    expect(request?.headers['content-type']).toBe('application/json');
  });

  it('reports a 500 as http_error with the body', async () => {
    const receiver = await startReceiver((_req, res) => res.writeHead(500).end('boom'));
    const result = await sender().send({ url: receiver.url, body: payload, headers });
    expect(result.outcome).toEqual({ kind: 'http_error', statusCode: 500 });
    expect(result.statusCode).toBe(500);
    expect(result.responseBody).toBe('boom');
  });

  it('keeps a binary answer storable: NUL bytes become U+FFFD (PostgreSQL text cannot hold NUL)', async () => {
    const receiver = await startReceiver((_req, res) => res.writeHead(200).end(Buffer.from([0x6f, 0x00, 0x6b, 0x00])));
    const result = await sender().send({ url: receiver.url, body: payload, headers });
    expect(result.outcome).toEqual({ kind: 'success', statusCode: 200 });
    expect(result.responseBody).toBe('o\uFFFDk\uFFFD');
  });

  it('does not follow a 302', async () => {
    const target = await startReceiver((_req, res) => res.writeHead(200).end('should not be reached'));
    const redirector = await startReceiver((_req, res) => res.writeHead(302, { location: target.url }).end());
    const result = await sender().send({ url: redirector.url, body: payload, headers });
    expect(result.outcome).toEqual({ kind: 'http_error', statusCode: 302 });
    expect(redirector.received).toHaveLength(1);
    expect(target.received).toHaveLength(0);
  });

  it('keeps only responseBodyLimit bytes of a 10 MB body', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024, 'a');
    const receiver = await startReceiver((_req, res) => res.writeHead(200, { 'content-length': big.length }).end(big));
    const result = await sender({ responseBodyLimit: 1000 }).send({ url: receiver.url, body: payload, headers });
    expect(result.outcome).toEqual({ kind: 'success', statusCode: 200 });
    expect(result.responseBody).toBe('a'.repeat(1000));
  });

  it('stops reading a never-ending body once the limit is reached', async () => {
    let closed = false;
    const receiver = await startReceiver((_req, res) => {
      res.writeHead(200);
      const chunk = Buffer.alloc(16 * 1024, 'b');
      const timer = setInterval(() => res.write(chunk), 5);
      res.on('close', () => {
        closed = true;
        clearInterval(timer);
      });
    });
    const result = await sender({ responseBodyLimit: 100, timeoutMs: 5_000 }).send({ url: receiver.url, body: payload, headers });
    expect(result.outcome).toEqual({ kind: 'success', statusCode: 200 });
    expect(result.responseBody).toBe('b'.repeat(100));
    // A success, not a timeout (5 s), and the receiver saw the connection go: it stopped reading.
    await expect.poll(() => closed).toBe(true);
  });

  it('does not split a multi-byte character at the limit', async () => {
    const receiver = await startReceiver((_req, res) => res.writeHead(200).end('ab✓✓✓'));
    const result = await sender({ responseBodyLimit: 4 }).send({ url: receiver.url, body: payload, headers });
    // "✓" is 3 bytes: 4 bytes hold "ab" and a partial character, which is dropped.
    expect(result.responseBody).toBe('ab');
  });

  it('times out a receiver that never answers', async () => {
    const receiver = await startReceiver(() => {
      // Never respond.
    });
    const result = await sender({ timeoutMs: 300 }).send({ url: receiver.url, body: payload, headers });
    expect(result.outcome).toEqual({ kind: 'timeout' });
    expect(result.error).toBe('timed out after 300ms');
    expect(result.statusCode).toBeNull();
    // It waited the whole timeout (a slow machine only makes this longer).
    expect(result.durationMs).toBeGreaterThanOrEqual(290);
    expect(receiver.received).toHaveLength(1);
  });

  it('times out a response whose body stalls', async () => {
    const receiver = await startReceiver((_req, res) => {
      res.writeHead(200, { 'content-length': 1000 });
      res.write('partial');
    });
    const result = await sender({ timeoutMs: 300 }).send({ url: receiver.url, body: payload, headers });
    expect(result.outcome).toEqual({ kind: 'timeout' });
    expect(result.statusCode).toBe(200);
  });

  it('reports a refused connection as network_error', async () => {
    const closed = await refusingPort();
    cleanups.push(() => closed.release());
    const result = await sender().send({ url: `http://127.0.0.1:${closed.port}/hook`, body: payload, headers });
    expect(result.outcome.kind).toBe('network_error');
    expect(result.error).toMatch(/ECONNREFUSED/);
    if (result.outcome.kind === 'network_error') expect(result.outcome.message).toMatch(/ECONNREFUSED/);
    expect(result.statusCode).toBeNull();
    expect(result.responseBody).toBeNull();
  });

  it('refuses a private literal IP without connecting', async () => {
    const receiver = await startReceiver((_req, res) => res.end('ok'));
    const result = await sender({ allowPrivateNetworks: false }).send({ url: receiver.url, body: payload, headers });
    expect(result.outcome.kind).toBe('refused');
    expect(result.error).toMatch(/refused: 127\.0\.0\.1 is a loopback\/private address/);
    expect(receiver.received).toHaveLength(0);
  });

  it('refuses a hostname that resolves to a private address (via the lookup hook)', async () => {
    let connections = 0;
    const receiver = await startReceiver((_req, res) => res.end('ok'));
    receiver.server.on('connection', () => connections++);
    const result = await sender({ allowPrivateNetworks: false }).send({ url: `http://localhost:${receiver.port}/hook`, body: payload, headers });
    expect(result.outcome.kind).toBe('refused');
    expect(result.error).toMatch(/^refused: (127\.0\.0\.1|::1) is a loopback\/private address/);
    expect(receiver.received).toHaveLength(0);
    expect(connections).toBe(0);
  });

  it('refuses a non-http scheme', async () => {
    const result = await sender().send({ url: 'ftp://127.0.0.1/x', body: payload, headers });
    expect(result.outcome.kind).toBe('refused');
  });

  it('reuses the connection between sends (keep-alive)', async () => {
    const receiver = await startReceiver((_req, res) => res.writeHead(204).end());
    const shared = sender();
    const first = await shared.send({ url: receiver.url, body: payload, headers });
    // undici marks a connection idle again one macrotask after the response
    // ends; a worker always does other work between two sends anyway.
    await new Promise((resolve) => setImmediate(resolve));
    const second = await shared.send({ url: receiver.url, body: payload, headers });
    expect(first.outcome.kind).toBe('success');
    expect(second.outcome.kind).toBe('success');
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[0]?.remotePort).toBeDefined();
    expect(receiver.received[1]?.remotePort).toBe(receiver.received[0]?.remotePort);
  });

  it('does not open a connection per send even back to back', async () => {
    let connections = 0;
    const receiver = await startReceiver((_req, res) => res.writeHead(200).end('ok'));
    receiver.server.on('connection', () => connections++);
    const shared = sender();
    for (let i = 0; i < 6; i++) {
      expect((await shared.send({ url: receiver.url, body: payload, headers })).outcome.kind).toBe('success');
    }
    expect(receiver.received).toHaveLength(6);
    expect(connections).toBeLessThanOrEqual(2);
  });
});
