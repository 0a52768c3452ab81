import http from 'node:http';
import net from 'node:net';

/** How the proxy answers a request: passes it on, asks for authentication, or fails for itself. */
export type ProxyAnswer = 'pass' | 'auth-required' | 'bad-gateway';

/**
 * An HTTP forward proxy on 127.0.0.1: absolute-form requests for `http:` targets and CONNECT
 * tunnels for `https:` ones. Whatever host a request names, the proxy connects to 127.0.0.1 at the
 * requested port, so that no test traffic ever leaves the machine. It records what passes through,
 * and answers as scripted (`answerNext`), else as `answer`.
 */
export class ForwardProxy {
  /** CONNECT targets (`host:port`), in order. */
  readonly tunnels: string[] = [];
  /** Absolute-form request targets (`http://host:port/path`), in order. */
  readonly forwarded: string[] = [];
  answer: ProxyAnswer = 'pass';
  private readonly script: ProxyAnswer[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly server = http.createServer((req, res) => this.forward(req, res));

  static async start(): Promise<ForwardProxy> {
    const proxy = new ForwardProxy();
    proxy.server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => proxy.tunnel(req, socket, head));
    proxy.server.on('connection', (socket: net.Socket) => {
      proxy.sockets.add(socket);
      socket.once('close', () => proxy.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  /** The next requests get these answers, one each, before `answer` applies again. */
  answerNext(...answers: ProxyAnswer[]): void {
    this.script.push(...answers);
  }

  /** Everything that went through, to compare before and after. */
  get seen(): number {
    return this.tunnels.length + this.forwarded.length;
  }

  private nextAnswer(): ProxyAnswer {
    return this.script.shift() ?? this.answer;
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.forwarded.push(req.url ?? '');
    const answer = this.nextAnswer();
    if (answer === 'auth-required') {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test proxy"' }).end();
      return;
    }
    if (answer === 'bad-gateway') {
      res.writeHead(502, { 'proxy-status': 'testproxy; error=destination_unavailable' }).end('the proxy could not reach it');
      return;
    }
    const target = new URL(req.url ?? '');
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !name.startsWith('proxy-')));
    const upstream = http.request(
      { host: '127.0.0.1', port: Number(target.port || 80), path: `${target.pathname}${target.search}`, method: req.method, headers },
      (answerFromTarget) => {
        res.writeHead(answerFromTarget.statusCode ?? 502, answerFromTarget.headers);
        answerFromTarget.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'proxy-status': 'testproxy; error=connection_refused' }).end();
      else res.destroy();
    });
    req.pipe(upstream);
  }

  private tunnel(req: http.IncomingMessage, client: net.Socket, head: Buffer): void {
    this.tunnels.push(req.url ?? '');
    const answer = this.nextAnswer();
    if (answer !== 'pass') {
      const status = answer === 'auth-required' ? '407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test proxy"' : '502 Bad Gateway';
      client.end(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    const port = Number((req.url ?? '').split(':').at(-1));
    const upstream = net.connect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    this.sockets.add(upstream);
    upstream.once('close', () => this.sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
