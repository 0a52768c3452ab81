/**
 * Ctrl-C and systemd's stop send their signal to the whole process group: the server entry, npm's
 * processes, and anything else in the group. Hooklane in embedded mode must still let the
 * deliveries in flight finish, record them in its embedded PostgreSQL, then stop it and exit 0.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS, ensureBuilt } from '../support/dist.js';
import { signHs256Token } from '../../src/auth/jwt.js';
import { eventually, TEST_JWT_SECRET } from '../support/hooklane.js';
import { processExists, startServerProcess, type ServerProcess, type ServerProcessOptions } from '../support/server-process.js';

/** A receiver that holds every request until the test releases it, then answers 200. */
class HoldingReceiver {
  readonly webhookIds: string[] = [];
  private held: http.ServerResponse[] = [];
  private waiters: (() => void)[] = [];
  private readonly server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      this.webhookIds.push(String(req.headers['webhook-id']));
      this.held.push(res);
      for (const waiter of this.waiters.splice(0)) waiter();
    });
  });

  static async start(): Promise<HoldingReceiver> {
    const receiver = new HoldingReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}/webhook`;
  }

  get heldCount(): number {
    return this.held.length;
  }

  /** Resolves once `count` requests are held. */
  async waitForHeld(count: number): Promise<void> {
    while (this.held.length < count) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  releaseAll(): void {
    for (const res of this.held.splice(0)) res.writeHead(200).end('ok');
  }

  async close(): Promise<void> {
    this.releaseAll();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const DELIVERIES = 10;

describe('a signal to the process group stops Hooklane cleanly (embedded PostgreSQL)', { timeout: 240_000 }, () => {
  beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);
  let dataDir: string;
  let receiver: HoldingReceiver;
  const running: ServerProcess[] = [];

  beforeAll(async () => {
    const parent = await mkdtemp(path.join(os.tmpdir(), 'hooklane-signals-'));
    // Under root, the embedded PostgreSQL runs as another user, which must be able to enter it.
    await chmod(parent, 0o755);
    dataDir = path.join(parent, 'data');
    receiver = await HoldingReceiver.start();
  });
  afterEach(async () => {
    for (const server of running.splice(0)) await server.kill();
  });
  afterAll(async () => {
    await receiver?.close();
    if (dataDir) await rm(path.dirname(dataDir), { recursive: true, force: true });
  });

  /** The server entry on the shared DATA_DIR, in its own process group, once it serves. */
  const start = async (options: Partial<ServerProcessOptions> = {}) => {
    const server = startServerProcess({
      ownProcessGroup: true,
      ...options,
      env: {
        DATA_DIR: dataDir,
        HOST: '127.0.0.1',
        PORT: '0',
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        DELIVERY_ALLOW_PRIVATE_NETWORKS: 'true',
        DELIVERY_TIMEOUT: '20s',
        SHUTDOWN_TIMEOUT: '20s',
        WORKER_POLL_INTERVAL: '100ms',
        LOG_LEVEL: 'info',
      },
    });
    running.push(server);
    const postgresPid = (JSON.parse(await server.waitForLine(/"msg":"embedded PostgreSQL started"/)) as { postgresPid: number }).postgresPid;
    const { graphqlUrl } = JSON.parse(await server.waitForLine(/"msg":"Hooklane started"/)) as { graphqlUrl: string };
    const gql = async (token: string, query: string, variables: Record<string, unknown> = {}) => {
      const response = await fetch(graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { data?: any; errors?: unknown[] };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    };
    return { server, postgresPid, gql };
  };

  const tenantToken = (tenantId: string) => signHs256Token(TEST_JWT_SECRET, { sub: 'u', tenant_id: tenantId }, { expiresIn: '1h' });

  const deliveriesOf = async (gql: Awaited<ReturnType<typeof start>>['gql'], token: string) => {
    const data = await gql(token, '{ events(first: 100) { edges { node { id deliveries { status attemptCount } } } } }');
    return (data.events.edges as { node: { deliveries: { status: string; attemptCount: number }[] } }[]).flatMap((edge) => edge.node.deliveries);
  };

  const signalWithDeliveriesInFlight = async (signal: NodeJS.Signals, viaNpmStart = false) => {
    const first = await start({ viaNpmStart });
    const admin = await signHs256Token(TEST_JWT_SECRET, { sub: 'admin', roles: ['admin'] }, { expiresIn: '1h' });
    const tenantId = (await first.gql(admin, `mutation { createTenant(input: { name: "${signal}" }) { tenant { id } } }`)).createTenant.tenant.id as string;
    const token = await tenantToken(tenantId);
    await first.gql(token, 'mutation { createEventType(input: { name: "invoice.paid" }) { eventType { id } } }');
    await first.gql(token, 'mutation($url: String!) { createSubscription(input: { url: $url, eventTypes: ["invoice.paid"] }) { secret } }', {
      url: receiver.url,
    });
    const sentBefore = receiver.webhookIds.length;
    const events = Array.from({ length: DELIVERIES }, (_, n) => ({ eventType: 'invoice.paid', payload: { n } }));
    await first.gql(token, 'mutation($events: [PublishEventsItem!]!) { publishEvents(input: { events: $events }) { events { id } } }', { events });
    await receiver.waitForHeld(DELIVERIES);

    first.server.signal(signal);
    await first.server.waitForLine(/"msg":"shutting down"/);
    // The group's signal has been handled, and the database still runs to record the attempts.
    expect(processExists(first.postgresPid)).toBe(true);
    receiver.releaseAll();
    const exit = await first.server.exit;
    if (viaNpmStart) {
      // npm, the group's leader, ends as a Ctrl-C'd program conventionally does (killed by SIGINT,
      // or 130) whatever its script returned: the script's own clean end is its "stopped" line.
      expect([{ code: 0, signal: null }, { code: 130, signal: null }, { code: null, signal: 'SIGINT' }], first.server.stderr).toContainEqual(exit);
    } else {
      expect(exit, `${first.server.stdout}\n${first.server.stderr}`).toEqual({ code: 0, signal: null });
    }
    expect(first.server.stdout).toContain('"msg":"stopped"');
    expect(first.server.stdout).not.toContain('SHUTDOWN_TIMEOUT');
    // Stopped last, and nothing left behind.
    expect(processExists(first.postgresPid)).toBe(false);
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    // After a restart: every delivery is recorded as answered, once, and none is sent again.
    const second = await start();
    expect(await deliveriesOf(second.gql, token)).toEqual(Array.from({ length: DELIVERIES }, () => ({ status: 'SUCCEEDED', attemptCount: 1 })));
    await second.gql(token, 'mutation { publishEvent(input: { eventType: "invoice.paid", payload: { n: "after" } }) { event { id } } }');
    await receiver.waitForHeld(1);
    receiver.releaseAll();
    const sent = receiver.webhookIds.slice(sentBefore);
    expect(sent).toHaveLength(DELIVERIES + 1);
    expect(new Set(sent).size).toBe(DELIVERIES + 1);
    await eventually(async () => ((await deliveriesOf(second.gql, token)).every((d) => d.status === 'SUCCEEDED') ? true : undefined), 10_000, 'the last delivery');

    second.server.signal('SIGTERM');
    expect((await second.server.exit).code).toBe(0);
  };

  it('SIGINT to the group (Ctrl-C): deliveries in flight are recorded once, PostgreSQL stops last, exit 0', async () => {
    await signalWithDeliveriesInFlight('SIGINT');
  });

  it('SIGTERM to the group (systemd): the same', async () => {
    await signalWithDeliveriesInFlight('SIGTERM');
  });

  it('SIGINT to the group of `npm start` (npm and the entry both get it): the same', async () => {
    await signalWithDeliveriesInFlight('SIGINT', true);
  });
});
