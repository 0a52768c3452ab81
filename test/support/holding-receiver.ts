import http from 'node:http';

/**
 * A webhook receiver on 127.0.0.1 that answers nothing until the test releases what it holds: a
 * receiver slower than any test, without timers. It counts the requests it holds open.
 */
export class HoldingReceiver {
  /** webhook-id of every request received, in arrival order. */
  readonly received: string[] = [];
  private readonly held = new Set<http.ServerResponse>();
  private readonly server = http.createServer((req, res) => this.handle(req, res));

  static async start(): Promise<HoldingReceiver> {
    const receiver = new HoldingReceiver();
    receiver.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    const address = this.server.address();
    if (typeof address !== 'object' || !address) throw new Error('receiver is not listening');
    return `http://127.0.0.1:${address.port}/webhook`;
  }

  /** Requests received and not answered yet whose client is still waiting. */
  get open(): number {
    return this.held.size;
  }

  /** Answers 200 to every request held now. */
  release(): void {
    for (const res of this.held) res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    this.held.clear();
  }

  async waitFor(predicate: (receiver: HoldingReceiver) => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (Date.now() > deadline) throw new Error(`receiver: timed out after ${timeoutMs}ms waiting for ${what} (${this.open} open)`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    req.resume();
    req.on('end', () => {
      this.received.push(String(req.headers['webhook-id']));
      this.held.add(res);
      // A client that gives up (its timeout) closes the socket: nothing is held for it any more.
      res.on('close', () => this.held.delete(res));
    });
  }
}
