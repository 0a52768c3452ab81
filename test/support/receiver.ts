import http from 'node:http';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  receivedAt: number;
}

export interface Reply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Hold the response this long before answering (a slow receiver; never a way to wait for something). */
  delayMs?: number;
  /** Hold the response until this settles: a `Hold` the test releases when it has seen what it needs. */
  heldUntil?: Promise<unknown>;
}

/**
 * Replies held until the test releases them: a request answered with `{ heldUntil: hold.released }`
 * stays in flight, whatever the machine's speed, until `hold.release()`.
 */
export class Hold {
  readonly released: Promise<void>;
  private resolve!: () => void;

  constructor() {
    this.released = new Promise<void>((resolve) => (this.resolve = resolve));
  }

  release(): void {
    this.resolve();
  }
}

/** Sends `reply` once its delay has passed and its hold is released, unless the client has gone. */
export function answerWhenDue(reply: Reply, res: http.ServerResponse, send: () => void): void {
  const sendIfConnected = () => {
    if (!res.destroyed) send();
  };
  const afterDelay = () => (reply.delayMs ? setTimeout(sendIfConnected, reply.delayMs) : sendIfConnected());
  if (reply.heldUntil) void reply.heldUntil.then(afterDelay);
  else afterDelay();
}

/** An answer, or a function that makes it when the request arrives (e.g. a date relative to its arrival). */
export type ScriptedReply = Reply | ((request: ReceivedRequest) => Reply);

/**
 * A webhook receiver on 127.0.0.1 that records every request and answers from a script:
 * replies are taken in order, and the last one repeats.
 */
export class TestReceiver {
  readonly requests: ReceivedRequest[] = [];
  /** Requests not answered yet (and whose client has not gone), and the most there ever were at once. */
  inFlight = 0;
  maxInFlight = 0;
  private replies: ScriptedReply[] = [{ status: 200, body: 'ok' }];
  private readonly server = http.createServer((req, res) => this.handle(req, res));

  static async start(): Promise<TestReceiver> {
    const receiver = new TestReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    const address = this.server.address();
    if (typeof address !== 'object' || !address) throw new Error('receiver is not listening');
    return `http://127.0.0.1:${address.port}/webhook`;
  }

  /** Sets the answers to the next requests; the last one repeats. */
  replyWith(...replies: ScriptedReply[]): void {
    this.replies = replies;
  }

  async waitForRequests(count: number, timeoutMs = 10_000): Promise<ReceivedRequest[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.requests.length < count) {
      if (Date.now() > deadline) throw new Error(`receiver got ${this.requests.length} of ${count} requests in ${timeoutMs}ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return this.requests.slice(0, count);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.once('close', () => this.inFlight--);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawBody: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      });
      const scripted = this.replies.length > 1 ? this.replies.shift()! : this.replies[0]!;
      const reply = typeof scripted === 'function' ? scripted(this.requests.at(-1)!) : scripted;
      answerWhenDue(reply, res, () => {
        res.writeHead(reply.status, reply.headers ?? { 'content-type': 'text/plain' });
        res.end(reply.body ?? '');
      });
    });
  }
}
