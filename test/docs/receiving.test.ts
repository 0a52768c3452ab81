import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestHooklane, type TestHooklane } from '../support/hooklane.js';

/**
 * Runs every ```js receiving-example block of docs/receiving.md as its own Node process, the way a
 * reader would run it, and has a real Hooklane deliver signed events to it.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GUIDE = path.join(ROOT, 'docs/receiving.md');
const EXAMPLE_BLOCK = /^```(?:js|ts) receiving-example\n([\s\S]*?)^```$/gm;

function receivingExamples(markdown: string): string[] {
  return [...markdown.matchAll(EXAMPLE_BLOCK)].map((match) => match[1]!);
}

/**
 * The guide imports `@hooklane/sdk`, the name users install. Where that package does not resolve
 * in this checkout, the root package's `hooklane/sdk` export stands in for it (the same module).
 */
function sdkSpecifier(): string {
  try {
    createRequire(path.join(ROOT, 'package.json')).resolve('@hooklane/sdk');
    return '@hooklane/sdk';
  } catch {
    return 'hooklane/sdk';
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One example running as a child process, with its output read line by line. */
class RunningExample {
  readonly lines: string[] = [];
  private readonly waiters = new Set<() => void>();
  private stderr = '';

  constructor(private readonly child: ChildProcess) {
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const complete = pending.split('\n');
      pending = complete.pop()!;
      this.lines.push(...complete);
      for (const wake of this.waiters) wake();
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    child.on('exit', () => {
      for (const wake of this.waiters) wake();
    });
  }

  /** Resolves with the first line that satisfies `matches`, as soon as it is printed. */
  waitForLine(matches: (line: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = this.lines.find(matches);
        if (line !== undefined) return done(() => resolve(line));
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          return done(() => reject(new Error(`the example exited before printing ${what}:\n${this.stderr}`)));
        }
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no ${what} within ${timeoutMs}ms; stderr:\n${this.stderr}`))), timeoutMs);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}

describe('docs/receiving.md examples', () => {
  const examples = receivingExamples(readFileSync(GUIDE, 'utf8'));
  let hooklane: TestHooklane;
  let tenant: { id: string; token: string };
  let workDir: string;

  beforeAll(async () => {
    hooklane = await startTestHooklane();
    tenant = await hooklane.createTenant('Receiving guide');
    const created = await hooklane.gql(tenant.token, 'mutation { createEventType(input: {name: "invoice.paid"}) { eventType { id } } }');
    expect(created.errors).toBeUndefined();
    // Inside the repository (and ignored by git), so that the examples' imports resolve as in a project.
    mkdirSync(path.join(ROOT, '.test-data'), { recursive: true });
    workDir = mkdtempSync(path.join(ROOT, '.test-data', 'receiving-examples-'));
  });

  afterAll(async () => {
    await hooklane?.stop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('the guide shows the receivers the suite runs', () => {
    expect(examples.length).toBeGreaterThanOrEqual(3);
    expect(examples.some((code) => code.includes("from '@hooklane/sdk'"))).toBe(true);
    expect(examples.some((code) => code.includes("from 'standardwebhooks'"))).toBe(true);
  });

  async function publish(payload: Record<string, unknown>): Promise<string> {
    const result = await hooklane.gql<{ publishEvent: { event: { id: string } } }>(
      tenant.token,
      'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }',
      { input: { eventType: 'invoice.paid', payload } },
    );
    expect(result.errors).toBeUndefined();
    return result.data!.publishEvent.event.id;
  }

  async function succeededAttempts(eventId: string): Promise<{ statusCode: number | null }[]> {
    const result = await hooklane.gql<{ event: { deliveries: { status: string; attempts: { statusCode: number | null }[] }[] } }>(
      tenant.token,
      'query($id: ID!) { event(id: $id) { deliveries { status attempts { statusCode } } } }',
      { id: eventId },
    );
    return result.data!.event.deliveries.filter((delivery) => delivery.status === 'SUCCEEDED').flatMap((delivery) => delivery.attempts);
  }

  it.each(examples.map((code, index) => [index + 1, code] as const))('example %i verifies, deduplicates and answers at once', async (number, code) => {
    const thin = code.includes('createClient');
    const port = await freePort();
    const subscribed = await hooklane.gql<{ createSubscription: { subscription: { id: string }; secret: string } }>(
      tenant.token,
      'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { id } secret } }',
      { input: { url: `http://127.0.0.1:${port}/webhooks`, eventTypes: ['invoice.paid'], ...(thin ? { payloadMode: 'THIN' } : {}) } },
    );
    expect(subscribed.errors).toBeUndefined();
    const { subscription, secret } = subscribed.data!.createSubscription;

    const file = path.join(workDir, `example-${number}.mjs`);
    writeFileSync(file, code.replaceAll("from '@hooklane/sdk'", `from '${sdkSpecifier()}'`));
    const readToken = await hooklane.tenantToken(tenant.id, { scope: 'events:read' });
    const example = new RunningExample(
      spawn(process.execPath, ['--import', 'tsx', file], {
        cwd: ROOT,
        env: { ...process.env, PORT: String(port), HOOKLANE_SECRET: secret, HOOKLANE_URL: hooklane.graphqlUrl, HOOKLANE_TOKEN: readToken },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    try {
      await example.waitForLine((line) => line.includes(`listening on port ${port}`), 'the listening line');

      // A genuine delivery is processed, once, with its full payload (fetched, for a thin subscription).
      const first = await publish({ invoiceId: `inv_${number}`, amount: 4200 });
      const processed = await example.waitForLine((line) => line.startsWith(`processed ${first} `), `the processing of ${first}`);
      expect(processed).toBe(`processed ${first} invoice.paid ${JSON.stringify({ invoiceId: `inv_${number}`, amount: 4200 })}`);
      const [attempt] = await eventually(async () => {
        const attempts = await succeededAttempts(first);
        return attempts.length === 1 ? attempts : undefined;
      }, 10_000, 'the first delivery to succeed');
      expect(attempt!.statusCode).toBe(204);

      // The same webhook-id again (a replay): answered 2xx, not processed again.
      const replay = await hooklane.gql(tenant.token, 'mutation($input: ReplayEventInput!) { replayEvent(input: $input) { deliveries { id } } }', {
        input: { id: first, subscriptionIds: [subscription.id] },
      });
      expect(replay.errors).toBeUndefined();
      const both = await eventually(async () => {
        const attempts = await succeededAttempts(first);
        return attempts.length === 2 ? attempts : undefined;
      }, 10_000, 'the replay to succeed');
      expect(both.map((a) => a.statusCode)).toEqual([204, 204]);
      // The example works in arrival order: once a later event is processed, a duplicate would have shown.
      const second = await publish({ invoiceId: `inv_${number}b`, amount: 1 });
      await example.waitForLine((line) => line.startsWith(`processed ${second} `), `the processing of ${second}`);
      expect(example.lines.filter((line) => line.startsWith(`processed ${first} `))).toHaveLength(1);

      // A request Hooklane did not sign is refused.
      const timestamp = String(Math.floor(Date.now() / 1000));
      const forged = await fetch(`http://127.0.0.1:${port}/webhooks`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': 'evt_forged',
          'webhook-timestamp': timestamp,
          'webhook-signature': `v1,${Buffer.alloc(32, 1).toString('base64')}`,
        },
        body: JSON.stringify({ type: 'invoice.paid', timestamp: new Date().toISOString(), data: { id: first } }),
      });
      expect(forged.status).toBe(400);
      const unsigned = await fetch(`http://127.0.0.1:${port}/webhooks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(unsigned.status).toBe(400);
      expect(example.lines.some((line) => line.includes('evt_forged'))).toBe(false);
    } finally {
      await example.stop();
    }
  });
});
