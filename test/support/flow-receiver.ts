import http from 'node:http';
import { answerWhenDue, type Reply } from './receiver.js';

export interface FlowRequest {
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  /** The parsed body, or undefined when it is not JSON. */
  body: any;
  webhookId: string;
  receivedAt: number;
  /** Requests in flight at this receiver when this one arrived, itself included. */
  concurrentOnArrival: number;
  /** Set once the answer is sent. */
  status?: number;
  answeredAt?: number;
}

/** Decides the answer to one request; may read the request (e.g. its payload) and the receiver's state. */
export type Responder = (request: FlowRequest, receiver: FlowReceiver) => Reply;

/**
 * A webhook receiver on 127.0.0.1 for flow-control tests: it answers through a function that can be
 * swapped mid-test (e.g. per payload), and it records how many requests were in flight at once.
 */
export class FlowReceiver {
  readonly requests: FlowRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private responder: Responder = () => ({ status: 200, body: 'ok' });
  private readonly server = http.createServer((req, res) => this.handle(req, res));

  static async start(responder?: Responder): Promise<FlowReceiver> {
    const receiver = new FlowReceiver();
    if (responder) receiver.respond(responder);
    // Many parallel deliveries: do not let keep-alive limits or header timeouts get in the way.
    receiver.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    const address = this.server.address();
    if (typeof address !== 'object' || !address) throw new Error('receiver is not listening');
    return `http://127.0.0.1:${address.port}/webhook`;
  }

  respond(responder: Responder): void {
    this.responder = responder;
  }

  /** Requests answered 2xx, in the order they were answered. */
  get succeeded(): FlowRequest[] {
    return this.requests
      .filter((request) => request.status !== undefined && request.status >= 200 && request.status < 300)
      .sort((a, b) => a.answeredAt! - b.answeredAt!);
  }

  /** Webhook ids of the first 2xx answer per event, in the order they were answered. */
  firstSuccessIds(): string[] {
    const seen = new Set<string>();
    const ids: string[] = [];
    for (const request of this.succeeded) {
      if (seen.has(request.webhookId)) continue;
      seen.add(request.webhookId);
      ids.push(request.webhookId);
    }
    return ids;
  }

  async waitFor(predicate: (receiver: FlowReceiver) => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (Date.now() > deadline) throw new Error(`receiver: timed out after ${timeoutMs}ms waiting for ${what} (${this.requests.length} requests)`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Waits until `count` distinct events have been answered 2xx. */
  async waitForSuccesses(count: number, timeoutMs = 10_000): Promise<string[]> {
    await this.waitFor((receiver) => receiver.firstSuccessIds().length >= count, timeoutMs, `${count} successful events`);
    return this.firstSuccessIds();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const concurrentOnArrival = this.inFlight;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      this.inFlight--;
    };
    // A client that gives up (timeout) closes the socket: it is no longer in flight.
    res.on('close', finish);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: any;
      try {
        body = JSON.parse(rawBody);
      } catch {
        body = undefined;
      }
      const request: FlowRequest = {
        headers: req.headers,
        rawBody,
        body,
        webhookId: String(req.headers['webhook-id']),
        receivedAt: Date.now(),
        concurrentOnArrival,
      };
      this.requests.push(request);
      const reply = this.responder(request, this);
      answerWhenDue(reply, res, () => {
        request.status = reply.status;
        request.answeredAt = Date.now();
        res.writeHead(reply.status, reply.headers ?? { 'content-type': 'text/plain' });
        res.end(reply.body ?? '');
        finish();
      });
    });
  }
}
