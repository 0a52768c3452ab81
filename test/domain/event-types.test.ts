/**
 * Event types that evolve: a schema change raises `version` and every publish from then on (in any
 * process, whatever it cached) is checked against the new schema and records its version;
 * archiving refuses publishes and hides the type; the built-in types are listed; the catalog is a
 * valid OpenAPI 3.1 document whose examples pass their own schemas.
 */
import { validate as validateOpenApi, dereference } from '@readme/openapi-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hooklane } from '../../src/app.js';
import { BUILT_IN_EVENT_TYPE_LIST } from '../../src/publish/built-in-event-types.js';
import { createEventType, gqlData } from '../support/graphql-helpers.js';
import { type GraphQLResponse, startSecondApi, startTestHooklane, type TestHooklane } from '../support/hooklane.js';

const EVENT_TYPE_FIELDS = 'id name description schema version deprecated archivedAt builtIn';
const UPDATE = `mutation($input: UpdateEventTypeInput!) { updateEventType(input: $input) { eventType { ${EVENT_TYPE_FIELDS} } } }`;
const ARCHIVE = `mutation($input: ArchiveEventTypeInput!) { archiveEventType(input: $input) { eventType { ${EVENT_TYPE_FIELDS} } } }`;
const PUBLISH = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id eventTypeVersion test } } }';
const LIST = `query($first: Int, $after: String, $includeArchived: Boolean) {
  eventTypes(first: $first, after: $after, includeArchived: $includeArchived) { edges { cursor node { ${EVENT_TYPE_FIELDS} } } pageInfo { hasNextPage endCursor } }
}`;

const AMOUNT = { type: 'object', required: ['amount'], properties: { amount: { type: 'integer' } } };
const AMOUNT_AND_CURRENCY = { type: 'object', required: ['amount', 'currency'], properties: { amount: { type: 'integer' }, currency: { type: 'string' } } };

interface EventTypeNode {
  id: string;
  name: string;
  description: string | null;
  schema: unknown;
  version: number;
  deprecated: boolean;
  archivedAt: string | null;
  builtIn: boolean;
}

type Gql = TestHooklane['gql'];

describe('event types that evolve', () => {
  let hooklane: TestHooklane;
  let second: Hooklane;
  /** The GraphQL API of a second API process on the same database, with caches of its own. */
  let secondGql: Gql;

  beforeAll(async () => {
    hooklane = await startTestHooklane();
    ({ app: second, gql: secondGql } = await startSecondApi(hooklane));
  });
  afterAll(async () => {
    await second?.stop();
    await hooklane?.stop();
  });

  const update = async (token: string, input: Record<string, unknown>): Promise<EventTypeNode> =>
    (await gqlData(hooklane, token, UPDATE, { input })).updateEventType.eventType;

  const publishWith = (gql: Gql, token: string, eventType: string, payload: unknown) => gql(token, PUBLISH, { input: { eventType, payload } });

  /** The event a publish wrote, or the code it was refused with. */
  function outcome(response: GraphQLResponse): { version: number } | { refused: unknown } {
    if (response.errors) return { refused: response.errors[0]!.extensions?.code };
    return { version: response.data!.publishEvent.event.eventTypeVersion };
  }

  async function list(token: string, variables: Record<string, unknown> = {}): Promise<EventTypeNode[]> {
    const nodes: EventTypeNode[] = [];
    let after: string | null = null;
    for (;;) {
      const { eventTypes }: { eventTypes: { edges: { node: EventTypeNode }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } } = await gqlData(
        hooklane,
        token,
        LIST,
        { first: 2, ...variables, after },
      );
      nodes.push(...eventTypes.edges.map((edge) => edge.node));
      if (!eventTypes.pageInfo.hasNextPage) return nodes;
      after = eventTypes.pageInfo.endCursor;
    }
  }

  it('raise version on a schema change only, and each event records the version it was checked against', async () => {
    const tenant = await hooklane.createTenant();
    await createEventType(hooklane, tenant.token, { name: 'invoice.paid', schema: AMOUNT });
    expect(outcome(await publishWith(hooklane.gql, tenant.token, 'invoice.paid', { amount: 1 }))).toEqual({ version: 1 });

    expect(await update(tenant.token, { name: 'invoice.paid', description: 'Paid in full' })).toMatchObject({ version: 1, description: 'Paid in full' });
    expect(await update(tenant.token, { name: 'invoice.paid', deprecated: true })).toMatchObject({ version: 1, deprecated: true });
    // The same schema, its keys in another order: no change.
    const reordered = { properties: { amount: { type: 'integer' } }, required: ['amount'], type: 'object' };
    expect(await update(tenant.token, { name: 'invoice.paid', schema: reordered })).toMatchObject({ version: 1 });
    expect(await update(tenant.token, { name: 'invoice.paid', schema: AMOUNT_AND_CURRENCY })).toMatchObject({
      version: 2,
      schema: AMOUNT_AND_CURRENCY,
      deprecated: true,
      description: 'Paid in full',
    });
    expect(outcome(await publishWith(hooklane.gql, tenant.token, 'invoice.paid', { amount: 1, currency: 'EUR' }))).toEqual({ version: 2 });
    expect(await update(tenant.token, { name: 'invoice.paid', schema: null, description: null, deprecated: false })).toMatchObject({
      version: 3,
      schema: null,
      description: null,
      deprecated: false,
    });
    expect(outcome(await publishWith(hooklane.gql, tenant.token, 'invoice.paid', 'anything'))).toEqual({ version: 3 });

    const versions = await hooklane.sql`select event_type_version as v from events where tenant_id = ${tenant.id} order by id`;
    expect(versions.map((row) => row.v)).toEqual([1, 2, 3]);
    const { auditLog } = await gqlData(hooklane, tenant.token, '{ auditLog(first: 10) { edges { node { action } } } }');
    expect(auditLog.edges.filter((edge: { node: { action: string } }) => edge.node.action === 'updateEventType')).toHaveLength(5);
  });

  it('refuse a change that is not one, and touch nothing when refused', async () => {
    const tenant = await hooklane.createTenant();
    await createEventType(hooklane, tenant.token, { name: 'order.created', schema: AMOUNT });
    const before = await hooklane.sql`select * from event_types where tenant_id = ${tenant.id}`;
    const refusals: [Record<string, unknown>, string][] = [
      [{ name: 'order.missing', description: 'x' }, 'NOT_FOUND'],
      [{ name: 'order.created', schema: { type: 'no-such-type' } }, 'BAD_USER_INPUT'],
      [{ name: 'order.created', description: 'x'.repeat(2_001) }, 'BAD_USER_INPUT'],
      [{ name: 'hooklane.delivery.failed', description: 'mine now' }, 'BAD_USER_INPUT'],
    ];
    for (const [input, code] of refusals) {
      const response = await hooklane.gql(tenant.token, UPDATE, { input });
      expect(response.errors?.[0]?.extensions?.code, JSON.stringify(input)).toBe(code);
    }
    const archiveBuiltIn = await hooklane.gql(tenant.token, ARCHIVE, { input: { name: 'hooklane.subscription.enabled' } });
    expect(archiveBuiltIn.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const readOnly = await hooklane.tenantToken(tenant.id, { scope: 'events:read events:publish' });
    expect((await hooklane.gql(readOnly, UPDATE, { input: { name: 'order.created', deprecated: true } })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await hooklane.gql(readOnly, ARCHIVE, { input: { name: 'order.created' } })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await hooklane.sql`select * from event_types where tenant_id = ${tenant.id}`).toEqual(before);
  });

  it('are never checked against an old schema, by this process or another that read it before the change', async () => {
    const tenant = await hooklane.createTenant();
    await createEventType(hooklane, tenant.token, { name: 'invoice.paid', schema: AMOUNT });
    const oldPayload = { amount: 5 };
    // Both processes publish once: each now holds the read of version 1 and reuses it.
    expect(outcome(await publishWith(hooklane.gql, tenant.token, 'invoice.paid', oldPayload))).toEqual({ version: 1 });
    expect(outcome(await publishWith(secondGql, tenant.token, 'invoice.paid', oldPayload))).toEqual({ version: 1 });
    expect(outcome(await publishWith(hooklane.gql, tenant.token, 'invoice.paid', oldPayload))).toEqual({ version: 1 });
    expect(outcome(await publishWith(secondGql, tenant.token, 'invoice.paid', oldPayload))).toEqual({ version: 1 });

    await update(tenant.token, { name: 'invoice.paid', schema: AMOUNT_AND_CURRENCY });
    // At once, in both: the old payload fails the new schema, a new one passes and records version 2.
    for (const gql of [hooklane.gql, secondGql]) {
      expect(outcome(await publishWith(gql, tenant.token, 'invoice.paid', oldPayload))).toEqual({ refused: 'BAD_USER_INPUT' });
      expect(outcome(await publishWith(gql, tenant.token, 'invoice.paid', { amount: 5, currency: 'EUR' }))).toEqual({ version: 2 });
    }
    // Changed through the second process, seen by the first.
    const changed = await secondGql(tenant.token, UPDATE, { input: { name: 'invoice.paid', schema: AMOUNT } });
    expect(changed.errors).toBeUndefined();
    expect(changed.data!.updateEventType.eventType.version).toBe(3);
    expect(outcome(await publishWith(hooklane.gql, tenant.token, 'invoice.paid', oldPayload))).toEqual({ version: 3 });
    const versions = await hooklane.sql`select event_type_version as v from events where tenant_id = ${tenant.id} order by id`;
    expect(versions.map((row) => row.v)).toEqual([1, 1, 1, 1, 2, 2, 3]);
  });

  it('once archived, are refused to publishers in every process and listed only when asked, until restored', async () => {
    const tenant = await hooklane.createTenant();
    await createEventType(hooklane, tenant.token, { name: 'user.created' });
    await createEventType(hooklane, tenant.token, { name: 'user.deleted' });
    for (const gql of [hooklane.gql, secondGql]) expect(outcome(await publishWith(gql, tenant.token, 'user.deleted', {}))).toEqual({ version: 1 });

    const { archiveEventType } = await gqlData(hooklane, tenant.token, ARCHIVE, { input: { name: 'user.deleted' } });
    expect(archiveEventType.eventType).toMatchObject({ name: 'user.deleted', archivedAt: expect.any(String), builtIn: false });
    // Archiving again keeps the first archive time.
    const again = await gqlData(hooklane, tenant.token, ARCHIVE, { input: { name: 'user.deleted' } });
    expect(again.archiveEventType.eventType.archivedAt).toBe(archiveEventType.eventType.archivedAt);

    const events = await hooklane.sql`select id from events where tenant_id = ${tenant.id}`;
    for (const gql of [hooklane.gql, secondGql]) {
      const refused = await publishWith(gql, tenant.token, 'user.deleted', {});
      expect(refused.errors?.[0]).toMatchObject({ message: expect.stringMatching(/archived/), extensions: { code: 'BAD_USER_INPUT', field: 'eventType' } });
    }
    expect(await hooklane.sql`select id from events where tenant_id = ${tenant.id}`).toEqual(events);

    const names = (nodes: EventTypeNode[]) => nodes.filter((node) => !node.builtIn).map((node) => node.name);
    expect(names(await list(tenant.token))).toEqual(['user.created']);
    expect(names(await list(tenant.token, { includeArchived: true }))).toEqual(['user.deleted', 'user.created']);
    const duplicate = await hooklane.gql(tenant.token, 'mutation { createEventType(input: { name: "user.deleted" }) { eventType { id } } }');
    expect(duplicate.errors?.[0]).toMatchObject({ message: expect.stringMatching(/archived/), extensions: { code: 'CONFLICT' } });
    const { auditLog } = await gqlData(hooklane, tenant.token, '{ auditLog(first: 1) { edges { node { action targetId } } } }');
    expect(auditLog.edges[0].node).toEqual({ action: 'archiveEventType', targetId: archiveEventType.eventType.id });

    expect(await update(tenant.token, { name: 'user.deleted', archived: false })).toMatchObject({ archivedAt: null, version: 1 });
    for (const gql of [hooklane.gql, secondGql]) expect(outcome(await publishWith(gql, tenant.token, 'user.deleted', {}))).toEqual({ version: 1 });
    expect(names(await list(tenant.token))).toEqual(['user.deleted', 'user.created']);
  });

  it('include the built-in ones, after the tenant\'s own, with their schemas', async () => {
    const tenant = await hooklane.createTenant();
    await createEventType(hooklane, tenant.token, { name: 'a.b' });
    const nodes = await list(tenant.token);
    expect(nodes.map((node) => [node.name, node.builtIn])).toEqual([
      ['a.b', false],
      ...BUILT_IN_EVENT_TYPE_LIST.map((builtIn) => [builtIn.name, true]),
    ]);
    for (const node of nodes.filter((candidate) => candidate.builtIn)) {
      expect(node).toMatchObject({ version: 1, deprecated: false, archivedAt: null, schema: expect.objectContaining({ type: 'object' }) });
    }
    // Ids are unique and newest first, built-in ones last; the same built-in ids for every tenant.
    expect(new Set(nodes.map((node) => node.id)).size).toBe(nodes.length);
    const other = await hooklane.createTenant();
    expect((await list(other.token)).map((node) => node.id)).toEqual(nodes.slice(1).map((node) => node.id));
  });

  it('make an OpenAPI 3.1 catalog: valid, one webhook per event type not archived, examples passing their own schemas', async () => {
    const tenant = await hooklane.createTenant('Acme');
    await createEventType(hooklane, tenant.token, {
      name: 'invoice.paid',
      schema: { ...AMOUNT_AND_CURRENCY, examples: [{ amount: 4200, currency: 'EUR' }] },
      description: 'An invoice was paid.',
    });
    await createEventType(hooklane, tenant.token, {
      name: 'order.shipped',
      schema: {
        type: 'object',
        required: ['orderId', 'address'],
        properties: { orderId: { type: 'string', minLength: 8 }, address: { $ref: '#/definitions/address' } },
        definitions: { address: { type: 'object', required: ['city'], properties: { city: { type: 'string' }, zip: { type: 'string', maxLength: 5 } } } },
      },
    });
    await createEventType(hooklane, tenant.token, {
      name: 'user.renamed',
      schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { name: { $ref: '#/$defs/name' } }, $defs: { name: { type: 'string', default: '#/not-a-ref' } } },
    });
    await createEventType(hooklane, tenant.token, { name: 'code.issued', schema: { type: 'object', required: ['code'], properties: { code: { type: 'string', pattern: '^[A-Z]{3}$' } } } });
    await createEventType(hooklane, tenant.token, { name: 'legacy.thing' });
    await createEventType(hooklane, tenant.token, { name: 'gone.thing' });
    await update(tenant.token, { name: 'legacy.thing', deprecated: true });
    await gqlData(hooklane, tenant.token, ARCHIVE, { input: { name: 'gone.thing' } });

    const { eventCatalog } = await gqlData(hooklane, tenant.token, '{ eventCatalog }');
    const result = await validateOpenApi(structuredClone(eventCatalog), { resolve: { external: false } });
    expect(result, JSON.stringify(result)).toMatchObject({ valid: true, specification: 'OpenAPI' });
    expect(eventCatalog.openapi).toBe('3.1.0');
    expect(eventCatalog.info.title).toBe('Acme webhooks');
    const names = ['code.issued', 'invoice.paid', 'legacy.thing', 'order.shipped', 'user.renamed', ...BUILT_IN_EVENT_TYPE_LIST.map((b) => b.name)].sort();
    expect(Object.keys(eventCatalog.webhooks).sort()).toEqual(names);

    const paid = eventCatalog.webhooks['invoice.paid'].post;
    expect(paid).toMatchObject({ description: 'An invoice was paid.', 'x-hooklane-event-type-version': 1 });
    expect(paid.deprecated).toBeUndefined();
    expect(eventCatalog.webhooks['legacy.thing'].post.deprecated).toBe(true);
    const headers = paid.parameters.map((parameter: { $ref: string }) => eventCatalog.components.parameters[parameter.$ref.split('/').at(-1)!]);
    expect(headers.map((header: { name: string; in: string; required: boolean }) => [header.name, header.in, header.required])).toEqual([
      ['webhook-id', 'header', true],
      ['webhook-timestamp', 'header', true],
      ['webhook-signature', 'header', true],
    ]);
    expect(paid.requestBody.content['application/json'].example).toEqual({ type: 'invoice.paid', timestamp: expect.any(String), data: { amount: 4200, currency: 'EUR' } });
    // A schema's own references point into its place in the document; values that look like one are left alone.
    expect(eventCatalog.components.schemas['order.shipped'].properties.address.$ref).toBe('#/components/schemas/order.shipped/definitions/address');
    expect(eventCatalog.components.schemas['user.renamed'].properties.name.$ref).toBe('#/components/schemas/user.renamed/$defs/name');
    expect(eventCatalog.components.schemas['user.renamed'].$defs.name.default).toBe('#/not-a-ref');
    // No example can be made for a pattern: the webhook has none, and is still described.
    expect(eventCatalog.webhooks['code.issued'].post.requestBody.content['application/json'].example).toBeUndefined();

    // Every example passes the envelope schema it illustrates, references resolved.
    const resolved = await dereference(structuredClone(eventCatalog), { resolve: { external: false } });
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    let examples = 0;
    for (const [name, webhook] of Object.entries(resolved.webhooks as Record<string, { post: { requestBody: { content: Record<string, { schema: object; example?: unknown }> } } }>)) {
      const media = webhook.post.requestBody.content['application/json']!;
      if (media.example === undefined) continue;
      examples++;
      const check = ajv.compile(stripDialect(media.schema));
      expect(check(media.example), `${name}: ${JSON.stringify(check.errors)}`).toBe(true);
      expect(check({ ...(media.example as object), type: 'other.type' })).toBe(false);
    }
    expect(examples).toBe(names.length - 1);

    // The same event types give the same document; a change gives another version.
    const again = (await gqlData(hooklane, tenant.token, '{ eventCatalog }')).eventCatalog;
    expect(again).toEqual(eventCatalog);
    await update(tenant.token, { name: 'legacy.thing', description: 'Old.' });
    expect((await gqlData(hooklane, tenant.token, '{ eventCatalog }')).eventCatalog.info.version).not.toBe(eventCatalog.info.version);
    const narrow = await hooklane.tenantToken(tenant.id, { scope: 'subscriptions:read' });
    expect((await hooklane.gql(narrow, '{ eventCatalog }')).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

/** A dereferenced schema with each embedded `$schema` removed: one ajv dialect checks the whole envelope. */
function stripDialect(schema: unknown): object {
  return JSON.parse(JSON.stringify(schema, (key, value: unknown) => (key === '$schema' ? undefined : value))) as object;
}
