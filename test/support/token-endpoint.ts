import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenRequest {
  authorization: string | undefined;
  contentType: string | undefined;
  form: URLSearchParams;
}

export interface TokenReply {
  status: number;
  body: unknown;
}

/**
 * An OAuth2 token endpoint on 127.0.0.1 that counts the requests it gets. By default it grants
 * `tok-1`, `tok-2`, … (one new token per request) for an hour; `replyWith` scripts other answers
 * (taken in order, the last one repeating).
 */
export class TokenEndpoint {
  readonly requests: TokenRequest[] = [];
  private replies: ((issued: number) => TokenReply)[] = [(issued) => ({ status: 200, body: { access_token: `tok-${issued}`, token_type: 'Bearer', expires_in: 3600 } })];
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.requests.push({
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        form: new URLSearchParams(Buffer.concat(chunks).toString('utf8')),
      });
      const reply = (this.replies.length > 1 ? this.replies.shift()! : this.replies[0]!)(this.requests.length);
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    });
  });

  static async start(): Promise<TokenEndpoint> {
    const endpoint = new TokenEndpoint();
    await new Promise<void>((resolve) => endpoint.server.listen(0, '127.0.0.1', resolve));
    return endpoint;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/oauth/token`;
  }

  replyWith(...replies: ((issued: number) => TokenReply)[]): void {
    this.replies = replies;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
