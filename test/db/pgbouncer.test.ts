/**
 * Why DATABASE_URL and DATABASE_READ_URL name PostgreSQL itself, not a PgBouncer
 * (docs/scaling.md#pgbouncer): Hooklane's pools take on hooklane_app with the `role` startup
 * parameter, which PgBouncer refuses, and which `ignore_startup_parameters` would drop, leaving
 * the connection as the login user, outside row-level security. Run against Debian's pgbouncer
 * (.ci/run installs it), in transaction mode, listening on a Unix socket in a folder of the test's own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectDatabase } from '../../src/db/client.js';
import { APP_ROLE } from '../../src/db/migrate.js';
import { createMigratedDatabase } from '../support/database.js';
import { eventually } from '../support/hooklane.js';

const PGBOUNCER = '/usr/sbin/pgbouncer';
const PORT = 6432; // only names the socket file in the test's own folder: no TCP port is opened

interface Bouncer {
  directory: string;
  process: ChildProcess;
  /** A TCP listener on 127.0.0.1 (port 0) relaying to the bouncer's socket: postgres.js URLs name a host. */
  relay: net.Server;
  relayed: Set<net.Socket>;
}

let databaseUrl: string;

/** Starts pgbouncer in transaction mode in front of the test database, with `extra` settings. */
async function startBouncer(extra: string): Promise<Bouncer> {
  const server = new URL(databaseUrl);
  const database = server.pathname.slice(1);
  const user = decodeURIComponent(server.username);
  const directory = await mkdtemp(path.join(os.tmpdir(), 'hooklane-pgbouncer-'));
  // pgbouncer refuses to run as root: it runs as nobody, who writes its socket here.
  await chmod(directory, 0o777);
  await writeFile(path.join(directory, 'users.txt'), `"${user}" "${decodeURIComponent(server.password)}"\n`, { mode: 0o644 });
  await writeFile(
    path.join(directory, 'pgbouncer.ini'),
    [
      '[databases]',
      `${database} = host=${server.hostname} port=${server.port || 5432} dbname=${database}`,
      '[pgbouncer]',
      `listen_port = ${PORT}`,
      `unix_socket_dir = ${directory}`,
      'auth_type = scram-sha-256',
      `auth_file = ${path.join(directory, 'users.txt')}`,
      'pool_mode = transaction',
      extra,
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const child = spawn(PGBOUNCER, ['-u', 'nobody', path.join(directory, 'pgbouncer.ini')], { stdio: 'ignore' });
  const socket = path.join(directory, `.s.PGSQL.${PORT}`);
  await eventually(async () => (existsSync(socket) ? true : undefined), 10_000, 'pgbouncer to listen');
  const relayed = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstream = net.connect(socket);
    relayed.add(client);
    client.on('close', () => relayed.delete(client));
    client.pipe(upstream).pipe(client);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return { directory, process: child, relay, relayed };
}

async function stopBouncer(bouncer: Bouncer | undefined): Promise<void> {
  if (!bouncer) return;
  const exited = new Promise((resolve) => bouncer.process.once('exit', resolve));
  bouncer.process.kill('SIGTERM');
  await exited;
  for (const client of bouncer.relayed) client.destroy();
  await new Promise<void>((resolve) => bouncer.relay.close(() => resolve()));
  await rm(bouncer.directory, { recursive: true, force: true });
}

/** DATABASE_URL through the bouncer. */
function bouncerUrl(bouncer: Bouncer): string {
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String((bouncer.relay.address() as net.AddressInfo).port);
  return url.toString();
}

describe.skipIf(!existsSync(PGBOUNCER))('PgBouncer in front of Hooklane', { timeout: 60_000 }, () => {
  beforeAll(async () => {
    databaseUrl = await createMigratedDatabase();
    // The server's own user, the one in inject('postgresUrl'), owns the test database.
    expect(new URL(databaseUrl).username).toBe(new URL(inject('postgresUrl')).username);
  });

  let bouncer: Bouncer | undefined;
  afterAll(() => stopBouncer(bouncer));

  it('refuses the pools\' `role` startup parameter', async () => {
    bouncer = await startBouncer('');
    const pool = connectDatabase(bouncerUrl(bouncer), { max: 1, role: APP_ROLE });
    try {
      await expect(pool.sql`select 1`).rejects.toThrow('unsupported startup parameter: role');
    } finally {
      await pool.close();
      await stopBouncer(bouncer);
      bouncer = undefined;
    }
  });

  it('with `role` in ignore_startup_parameters, connects as the login user: outside row-level security', async () => {
    bouncer = await startBouncer('ignore_startup_parameters = role');
    const pool = connectDatabase(bouncerUrl(bouncer), { max: 1, role: APP_ROLE });
    const direct = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    try {
      await direct`insert into tenants (id, name) values ('ten_seen_by_all', 'unscoped')`;
      const [row] = await pool.sql<{ role: string; tenants: number }[]>`select current_user as role, (select count(*)::int from tenants) as tenants`;
      expect(row!.role).not.toBe(APP_ROLE);
      // No tenant declared, and still the row shows: row-level security does not apply.
      expect(row!.tenants).toBe(1);
    } finally {
      await pool.close();
      await direct.end();
    }
  });
});
