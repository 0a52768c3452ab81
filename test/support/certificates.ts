import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { ReceivedRequest } from './receiver.js';

export interface KeyPair {
  certificate: string;
  key: string;
}

/** Certificates made with `openssl` for one test file: a CA of its own, what it signed, and strangers. */
export interface TestPki {
  ca: string;
  /** Signed by `ca` for `receiver.test`, `other.test` is not in it, and 127.0.0.1. */
  server: KeyPair;
  /** Signed by `ca` for client authentication, CN=hooklane-client. */
  client: KeyPair;
  /** A second, unrelated client key (it matches no certificate here). */
  strayKey: string;
  /** Another CA, trusted by no one. */
  otherCa: string;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** EC P-256 keys: quick to make. Valid for two days. */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hooklane-pki-'));
  try {
    const newKey = (name: string) => openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name);
    const selfSignedCa = (name: string, subject: string) => {
      newKey(`${name}.key`);
      openssl(dir, 'req', '-x509', '-new', '-key', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', subject,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    };
    const signed = (name: string, subject: string, extensions: string) => {
      newKey(`${name}.key`);
      openssl(dir, 'req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
      writeFileSync(path.join(dir, `${name}.ext`), extensions);
      openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`,
        '-days', '2', '-extfile', `${name}.ext`);
    };
    selfSignedCa('ca', '/CN=Hooklane Test CA');
    selfSignedCa('other-ca', '/CN=Unrelated Test CA');
    signed('server', '/CN=receiver.test', 'subjectAltName=DNS:receiver.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    signed('client', '/CN=hooklane-client', 'extendedKeyUsage=clientAuth\n');
    newKey('stray.key');
    const read = (name: string) => readFileSync(path.join(dir, name), 'utf8');
    return {
      ca: read('ca.crt'),
      server: { certificate: read('server.crt'), key: read('server.key') },
      client: { certificate: read('client.crt'), key: read('client.key') },
      strayKey: read('stray.key'),
      otherCa: read('other-ca.crt'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface TlsReceivedRequest extends ReceivedRequest {
  /** The CN of the client certificate presented, or null. */
  clientCommonName: string | null;
  /** The SNI name the client sent. */
  servername: string | null;
}

/** An HTTPS receiver on 127.0.0.1 with `pki.server`'s certificate that requires a client certificate signed by `pki.ca`. */
export class TlsReceiver {
  readonly requests: TlsReceivedRequest[] = [];
  /** TLS connections accepted, and how many of them have closed. */
  connections = 0;
  closedConnections = 0;
  private readonly server: https.Server;

  private constructor(pki: TestPki) {
    this.server = https.createServer(
      { key: pki.server.key, cert: pki.server.certificate, ca: [pki.ca], requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          const socket = req.socket as TLSSocket;
          const peer = socket.getPeerCertificate();
          this.requests.push({
            method: req.method ?? '',
            url: req.url ?? '',
            headers: req.headers,
            rawBody: Buffer.concat(chunks).toString('utf8'),
            receivedAt: Date.now(),
            clientCommonName: typeof peer?.subject?.CN === 'string' ? peer.subject.CN : null,
            servername: typeof socket.servername === 'string' ? socket.servername : null,
          });
          res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        });
      },
    );
  }

  static async start(pki: TestPki): Promise<TlsReceiver> {
    const receiver = new TlsReceiver(pki);
    receiver.server.on('secureConnection', (socket: TLSSocket) => {
      receiver.connections += 1;
      socket.once('close', () => (receiver.closedConnections += 1));
    });
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The receiver's URL under `host` (a name the test's resolver maps to 127.0.0.1, or 127.0.0.1 itself). */
  url(host = 'receiver.test'): string {
    return `https://${host}:${this.port}/webhook`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
