import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signHs256Token } from '../../src/auth/jwt.js';
import { createEventType, createSubscription, gqlData, mutate, publish, updateSubscription, waitForDelivery } from '../support/graphql-helpers.js';
import { startTestHooklane, TEST_JWT_SECRET, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

// Operators: suspend, resume and delete tenants (erasure), list them with their usage; the audit
// log records every management mutation of a tenant, who made it, and never a secret.

const TENANT_TABLES = ['events', 'event_idempotency_keys', 'deliveries', 'delivery_attempts', 'subscriptions', 'event_types', 'tenant_usage', 'audit_log'] as const;

let hooklane: TestHooklane;
let receiver: TestReceiver;

beforeAll(async () => {
  receiver = await TestReceiver.start();
  hooklane = await startTestHooklane();
});

afterAll(async () => {
  await hooklane?.stop();
  await receiver?.close();
});

async function rowsOf(tenantId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of TENANT_TABLES) {
    const [row] = await hooklane.sql.unsafe<{ count: number }[]>(`select count(*)::int as count from ${table} where tenant_id = $1`, [tenantId]);
    counts[table] = row!.count;
  }
  const [tenant] = await hooklane.sql<{ count: number }[]>`select count(*)::int as count from tenants where id = ${tenantId}`;
  counts.tenants = tenant!.count;
  return counts;
}

/** A tenant with an event type, a subscription, a delivered event (with an idempotency key) and audit entries. */
async function populated(name: string) {
  const tenant = await hooklane.createTenant(name);
  await createEventType(hooklane, tenant.token, { name: 'admin.test' });
  const { subscription } = await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['admin.test'] });
  const event = await publish(hooklane, tenant.token, { eventType: 'admin.test', payload: { name }, idempotencyKey: `${name}-key` });
  await waitForDelivery(hooklane, tenant.token, event.deliveries[0]!.id, 'SUCCEEDED');
  return { ...tenant, subscriptionId: subscription.id, eventId: event.id };
}

const byId = (id: string) => ({ input: { id } });

describe('admin-only tenant operations', () => {
  const OPERATIONS = [
    ['suspendTenant', 'mutation($input: SuspendTenantInput!) { suspendTenant(input: $input) { tenant { id status } } }'],
    ['resumeTenant', 'mutation($input: ResumeTenantInput!) { resumeTenant(input: $input) { tenant { id status } } }'],
    ['deleteTenant', 'mutation($input: DeleteTenantInput!) { deleteTenant(input: $input) { id } }'],
  ] as const;

  it.each(OPERATIONS)('%s is FORBIDDEN to a tenant token, even for its own tenant, and changes nothing', async (_name, mutation) => {
    const tenant = await hooklane.createTenant('self-service');
    const response = await hooklane.gql(tenant.token, mutation, byId(tenant.id));
    expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const [row] = await hooklane.sql`select status from tenants where id = ${tenant.id}`;
    expect(row!.status).toBe('ACTIVE');
  });

  it.each(OPERATIONS)('%s answers NOT_FOUND for an unknown tenant and audits nothing', async (_name, mutation) => {
    const entries = () => hooklane.sql`select ((select count(*) from audit_log) + (select count(*) from platform_audit_log))::int as count`;
    const [before] = await entries();
    const response = await hooklane.gql(hooklane.adminToken, mutation, byId('tenant_doesnotexist'));
    expect(response.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const [after] = await entries();
    expect(after!.count).toBe(before!.count);
  });

  it('tenants is FORBIDDEN to a tenant token', async () => {
    const tenant = await hooklane.createTenant('nosy');
    const response = await hooklane.gql(tenant.token, '{ tenants(first: 5) { edges { node { id } } } }');
    expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('suspendTenant and resumeTenant flip the status seen by the admin', async () => {
    const tenant = await hooklane.createTenant('flip');
    const suspended = await mutate<{ tenant: { status: string } }>(hooklane, hooklane.adminToken, 'suspendTenant', { id: tenant.id }, 'tenant { id status }');
    expect(suspended.tenant.status).toBe('SUSPENDED');
    const [row] = await hooklane.sql`select status from tenants where id = ${tenant.id}`;
    expect(row!.status).toBe('SUSPENDED');
    // Suspending twice is harmless.
    await mutate(hooklane, hooklane.adminToken, 'suspendTenant', { id: tenant.id }, 'tenant { id }');
    const resumed = await mutate<{ tenant: { status: string } }>(hooklane, hooklane.adminToken, 'resumeTenant', { id: tenant.id }, 'tenant { id status }');
    expect(resumed.tenant.status).toBe('ACTIVE');
  });
});

describe('tenants list with usage', () => {
  it('lists tenants with status and usage counts matching the database', async () => {
    const busy = await populated('listed-busy');
    await publish(hooklane, busy.token, { eventType: 'admin.test', payload: { again: true } });
    const idle = await hooklane.createTenant('listed-idle');
    await mutate(hooklane, hooklane.adminToken, 'suspendTenant', { id: idle.id }, 'tenant { id }');

    const data = await gqlData<{ tenants: { edges: { node: { id: string; status: string; usage: Record<string, number> } }[] } }>(
      hooklane,
      hooklane.adminToken,
      '{ tenants(first: 100) { edges { node { id status usage { eventsThisMonth subscriptions eventTypes } } } } }',
    );
    const nodes = new Map(data.tenants.edges.map((edge) => [edge.node.id, edge.node]));
    expect(nodes.get(busy.id)).toEqual({ id: busy.id, status: 'ACTIVE', usage: { eventsThisMonth: 2, subscriptions: 1, eventTypes: 1 } });
    expect(nodes.get(idle.id)).toEqual({ id: idle.id, status: 'SUSPENDED', usage: { eventsThisMonth: 0, subscriptions: 0, eventTypes: 0 } });
    // Every tenant in the database is listed, newest first.
    const [all] = await hooklane.sql`select count(*)::int as count from tenants`;
    expect(data.tenants.edges).toHaveLength(all!.count);
    const ids = data.tenants.edges.map((edge) => edge.node.id);
    expect(ids.indexOf(idle.id)).toBeLessThan(ids.indexOf(busy.id));
  });
});

describe('deleteTenant (erasure)', () => {
  it('erases every row of the tenant in every table and leaves the other tenant untouched', async () => {
    const doomed = await populated('doomed');
    const survivor = await populated('survivor');
    const doomedBefore = await rowsOf(doomed.id);
    for (const [table, count] of Object.entries(doomedBefore)) expect(count, table).toBeGreaterThan(0);
    const survivorBefore = await rowsOf(survivor.id);

    const deleted = await mutate<{ id: string }>(hooklane, hooklane.adminToken, 'deleteTenant', { id: doomed.id }, 'id');
    expect(deleted.id).toBe(doomed.id);

    const doomedAfter = await rowsOf(doomed.id);
    expect(doomedAfter).toEqual(Object.fromEntries(Object.keys(doomedBefore).map((table) => [table, 0])));
    // Nothing of it is left anywhere, not even as a foreign reference.
    const [attempts] = await hooklane.sql`
      select count(*)::int as count from delivery_attempts a join deliveries d on d.id = a.delivery_id where d.subscription_id = ${doomed.subscriptionId}`;
    expect(attempts!.count).toBe(0);
    expect(await rowsOf(survivor.id)).toEqual(survivorBefore);

    // The survivor keeps working.
    const again = await publish(hooklane, survivor.token, { eventType: 'admin.test', payload: { after: 'erasure' } });
    await waitForDelivery(hooklane, survivor.token, again.deliveries[0]!.id, 'SUCCEEDED');

    // The erased tenant is gone for the admin too.
    const list = await gqlData<{ tenants: { edges: { node: { id: string } }[] } }>(hooklane, hooklane.adminToken, '{ tenants(first: 100) { edges { node { id } } } }');
    expect(list.tenants.edges.map((edge) => edge.node.id)).not.toContain(doomed.id);
    const twice = await hooklane.gql(hooklane.adminToken, 'mutation($input: DeleteTenantInput!) { deleteTenant(input: $input) { id } }', byId(doomed.id));
    expect(twice.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    // A platform-level entry outlives the tenant's own log.
    const entries = await hooklane.sql`select target_id, action, actor_role, actor_subject from platform_audit_log where action = 'deleteTenant' and target_id = ${doomed.id}`;
    expect(entries).toHaveLength(1);
    expect(entries[0]).toEqual({ target_id: doomed.id, action: 'deleteTenant', actor_role: 'admin', actor_subject: 'test-admin' });
  });
});

describe('audit log', () => {
  const AUDIT_QUERY = '{ auditLog(first: 50) { edges { node { id action targetId actorSubject actorRole details createdAt } } } }';
  type Entry = { id: string; action: string; targetId: string | null; actorSubject: string | null; actorRole: string; details: unknown; createdAt: string };

  async function auditLog(token: string): Promise<Entry[]> {
    const data = await gqlData<{ auditLog: { edges: { node: Entry }[] } }>(hooklane, token, AUDIT_QUERY);
    return data.auditLog.edges.map((edge) => edge.node);
  }

  it('records management mutations newest first, with actor and target, never a secret; publishing is not audited', async () => {
    const tenant = await hooklane.createTenant('audited');
    const eventType = await createEventType(hooklane, tenant.token, { name: 'audit.test', description: 'for the log' });
    const created = await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['audit.test'] });
    expect(created.secret).toMatch(/^whsec_/);
    await updateSubscription(hooklane, tenant.token, { id: created.subscription.id, description: 'updated' });
    const rotated = await mutate<{ secret: string }>(hooklane, tenant.token, 'rotateSubscriptionSecret', { id: created.subscription.id }, 'secret');
    expect(rotated.secret).toMatch(/^whsec_/);
    await publish(hooklane, tenant.token, { eventType: 'audit.test', payload: { secret: 'whsec_notreally' } });
    await mutate(hooklane, tenant.token, 'deleteSubscription', { id: created.subscription.id }, 'id');

    const entries = await auditLog(tenant.token);
    expect(entries.map((entry) => entry.action)).toEqual([
      'deleteSubscription',
      'rotateSubscriptionSecret',
      'updateSubscription',
      'createSubscription',
      'createEventType',
      'createTenant',
    ]);
    const byAction = new Map(entries.map((entry) => [entry.action, entry]));
    expect(byAction.get('createEventType')!.targetId).toBe(eventType.id);
    for (const action of ['createSubscription', 'updateSubscription', 'rotateSubscriptionSecret', 'deleteSubscription']) {
      expect(byAction.get(action)!.targetId, action).toBe(created.subscription.id);
    }
    for (const entry of entries.slice(0, 5)) {
      expect(entry.actorSubject, entry.action).toBe(`user-of-${tenant.id}`);
      expect(entry.actorRole, entry.action).toBe('tenant');
    }
    expect(byAction.get('createTenant')!.actorRole).toBe('admin');
    expect(byAction.get('createEventType')!.details).toMatchObject({ name: 'audit.test', description: 'for the log' });
    expect(byAction.get('updateSubscription')!.details).toMatchObject({ id: created.subscription.id, description: 'updated' });
    const times = entries.map((entry) => Date.parse(entry.createdAt));
    expect([...times].sort((x, y) => y - x)).toEqual(times);

    const everything = JSON.stringify(entries);
    expect(everything).not.toContain('whsec_');
    expect(everything).not.toContain(created.secret);
    expect(everything).not.toContain(rotated.secret);
    expect(entries.some((entry) => entry.action.startsWith('publish'))).toBe(false);
    const [raw] = await hooklane.sql`select count(*)::int as count from audit_log where details::text like '%whsec_%'`;
    expect(raw!.count).toBe(0);
  });

  it('records admin actions on a tenant in that tenant’s log with actorRole admin', async () => {
    const tenant = await hooklane.createTenant('operated');
    await mutate(hooklane, hooklane.adminToken, 'updateTenantQuotas', { tenantId: tenant.id, subscriptions: 7 }, 'tenant { id }');
    await mutate(hooklane, hooklane.adminToken, 'suspendTenant', { id: tenant.id }, 'tenant { id }');
    await mutate(hooklane, hooklane.adminToken, 'resumeTenant', { id: tenant.id }, 'tenant { id }');

    const entries = await auditLog(tenant.token);
    expect(entries.map((entry) => entry.action)).toEqual(['resumeTenant', 'suspendTenant', 'updateTenantQuotas', 'createTenant']);
    for (const entry of entries) {
      expect(entry.actorRole).toBe('admin');
      expect(entry.actorSubject).toBe('test-admin');
      expect(entry.targetId).toBe(tenant.id);
    }
    expect(entries[2]!.details).toMatchObject({ tenantId: tenant.id, subscriptions: 7 });

    // An admin token naming the tenant reads the same log; another tenant sees none of it.
    const adminForTenant = await signHs256Token(TEST_JWT_SECRET, { sub: 'test-admin', roles: ['admin'], tenant_id: tenant.id }, { expiresIn: '1h' });
    expect((await auditLog(adminForTenant)).map((entry) => entry.id)).toEqual(entries.map((entry) => entry.id));
    const stranger = await hooklane.createTenant('stranger');
    const theirs = await auditLog(stranger.token);
    expect(theirs.map((entry) => entry.targetId)).not.toContain(tenant.id);
    expect(theirs.map((entry) => entry.action)).toEqual(['createTenant']);
  });

  it('a refused mutation leaves no audit entry', async () => {
    const tenant = await hooklane.createTenant('refused');
    const before = await auditLog(tenant.token);
    const response = await hooklane.gql(tenant.token, 'mutation { createEventType(input: { name: "not a valid name" }) { eventType { id } } }');
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await auditLog(tenant.token)).toEqual(before);
  });
});
