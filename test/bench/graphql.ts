/**
 * A small GraphQL-over-HTTP client for the benchmark: undici with a keep-alive Agent, HS256
 * tokens signed with Hooklane's own helper, and the few operations the benchmark needs.
 */
import { Agent } from 'undici';
import { signHs256Token } from '../../src/auth/jwt.js';

export class GraphQLError extends Error {
  override readonly name = 'GraphQLError';
}

interface GraphQLResponse<T> {
  data?: T;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/**
 * The load generator shares the machine's two cores with Hooklane and PostgreSQL, so each call
 * goes through undici's dispatch API, as Hooklane's own sender does: no URL parsed per call, no
 * response stream, one buffer parsed once: about half the CPU per call of undici's `request()`,
 * so the measurement takes as little as it can from what it measures.
 */
export class GraphQLClient {
  private readonly headers: Record<string, string>;
  private target: { url: string; origin: string; path: string } | undefined;

  constructor(
    /** The endpoint, or how to find it: Hooklane gets a new port at each restart. */
    private readonly url: string | (() => string),
    token: string,
    private readonly agent: Agent,
    private readonly timeoutMs = 60_000,
  ) {
    this.headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  }

  private endpoint(): { origin: string; path: string } {
    const url = typeof this.url === 'string' ? this.url : this.url();
    if (this.target?.url !== url) {
      const parsed = new URL(url);
      this.target = { url, origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
    }
    return this.target;
  }

  call<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
    const { origin, path } = this.endpoint();
    const body = JSON.stringify({ query, variables });
    return new Promise<T>((resolve, reject) => {
      let statusCode = 0;
      const chunks: Buffer[] = [];
      const completed = () => {
        const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
        let parsed: GraphQLResponse<T>;
        try {
          parsed = JSON.parse(text) as GraphQLResponse<T>;
        } catch {
          reject(new GraphQLError(`HTTP ${statusCode}, not JSON: ${text.slice(0, 200)}`));
          return;
        }
        if (parsed.errors?.length || !parsed.data) {
          reject(new GraphQLError(`HTTP ${statusCode}: ${JSON.stringify(parsed.errors).slice(0, 500)}`));
          return;
        }
        resolve(parsed.data);
      };
      try {
        this.agent.dispatch(
          { origin, path, method: 'POST', headers: this.headers, body, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs },
          {
            // undici takes a handler for its current API by this method; nothing to do here.
            onRequestStart() {},
            onResponseStart(_controller, status) {
              if (status >= 200) statusCode = status;
            },
            onResponseData(_controller, chunk) {
              chunks.push(chunk);
            },
            onResponseEnd() {
              completed();
            },
            onResponseError(_controller, error) {
              reject(error);
            },
          },
        );
      } catch (error) {
        reject(error);
      }
    });
  }
}

/** One keep-alive Agent for all of the benchmark's API calls. */
export function apiAgent(connections = 64): Agent {
  return new Agent({ connections, pipelining: 1, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 });
}

export async function adminToken(secret: string): Promise<string> {
  return signHs256Token(secret, { sub: 'bench-admin', roles: ['admin'] }, { expiresIn: '2h' });
}

export async function tenantToken(secret: string, tenantId: string): Promise<string> {
  return signHs256Token(secret, { sub: `bench-${tenantId}`, tenant_id: tenantId }, { expiresIn: '2h' });
}

export async function createTenant(admin: GraphQLClient, name: string): Promise<string> {
  const data = await admin.call<{ createTenant: { tenant: { id: string } } }>(
    'mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }',
    { input: { name } },
  );
  return data.createTenant.tenant.id;
}

export async function createEventType(client: GraphQLClient, name: string): Promise<void> {
  await client.call('mutation($input: CreateEventTypeInput!) { createEventType(input: $input) { eventType { id } } }', {
    input: { name },
  });
}

export async function createSubscription(client: GraphQLClient, url: string, eventTypes: string[]): Promise<string> {
  const data = await client.call<{ createSubscription: { subscription: { id: string } } }>(
    'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { id } } }',
    { input: { url, eventTypes } },
  );
  return data.createSubscription.subscription.id;
}

const PUBLISH_ONE = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }';
const PUBLISH_MANY = 'mutation($input: PublishEventsInput!) { publishEvents(input: $input) { events { id } } }';

export async function publishEvent(client: GraphQLClient, eventType: string, payload: unknown): Promise<string> {
  const data = await client.call<{ publishEvent: { event: { id: string } } }>(PUBLISH_ONE, { input: { eventType, payload } });
  return data.publishEvent.event.id;
}

export async function publishEvents(client: GraphQLClient, eventType: string, payloads: readonly unknown[]): Promise<string[]> {
  const data = await client.call<{ publishEvents: { events: { id: string }[] } }>(PUBLISH_MANY, {
    input: { events: payloads.map((payload) => ({ eventType, payload })) },
  });
  return data.publishEvents.events.map((event) => event.id);
}

/** A payload of about 100 bytes, so that a delivery body is about 200 bytes. */
export function samplePayload(n: number): Record<string, unknown> {
  return { orderId: `ord_${n.toString().padStart(8, '0')}`, amountCents: 1000 + (n % 9000), currency: 'EUR', note: 'benchmark payload' };
}
