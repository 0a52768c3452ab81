/**
 * Each start-up failure a user can cause ends the server entry with exit code 1 and one line on
 * standard error that names the cause and the fix (logs may go to standard output), and leaves
 * nothing running.
 */
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS, ensureBuilt } from '../support/dist.js';
import { refusingPort } from '../support/ports.js';
import { TEST_JWT_SECRET } from '../support/hooklane.js';
import { processExists, scratchFolders, type ServerProcess, startServerProcess } from '../support/server-process.js';

const isRoot = process.getuid?.() === 0;

describe('start-up failures: one line with the cause and the fix', { timeout: 120_000 }, () => {
  beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);
  /** `reachableFolder()`: a folder for DATA_DIR that PostgreSQL's user (under root) can enter. */
  const { cleanups, folder: reachableFolder } = scratchFolders('hooklane-startup-');

  const baseEnv = async (extra: Record<string, string> = {}) => ({
    DATA_DIR: path.join(await reachableFolder(), 'data'),
    HOST: '127.0.0.1',
    PORT: '0',
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'info',
    ...extra,
  });

  const start = (env: Record<string, string>): ServerProcess => {
    const server = startServerProcess({ env });
    cleanups.push(() => server.kill());
    return server;
  };

  /** Runs the entry to its end; expects exit 1 and exactly one line on standard error, which it returns. */
  const failingStart = async (env: Record<string, string>): Promise<string> => {
    const server = start(env);
    const exit = await server.exit;
    expect(exit, `${server.stdout}\n${server.stderr}`).toEqual({ code: 1, signal: null });
    const lines = server.stderr.split('\n').filter((line) => line !== '');
    expect(lines, server.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/\. Fix: .+\.$/);
    return lines[0]!;
  };

  it('bad configuration: names the variable and says to correct it; nothing is created', async () => {
    const env = await baseEnv({ PORT: 'four thousand', DELIVERY_TIMEOUT: '15 parsecs' });
    const line = await failingStart(env);
    expect(line).toMatch(/^Invalid configuration: .*PORT: .*; .*DELIVERY_TIMEOUT: .*\. Fix: correct these environment variables/);
    expect(existsSync(env.DATA_DIR)).toBe(false);
  });

  it('PORT taken: names the port and the fix, before the embedded PostgreSQL is started', async () => {
    const occupant = net.createServer();
    await new Promise<void>((resolve) => occupant.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => occupant.close(() => resolve())));
    const port = (occupant.address() as net.AddressInfo).port;
    const env = await baseEnv({ PORT: String(port) });

    const line = await failingStart(env);
    expect(line).toBe(`Port ${port} on 127.0.0.1 is already in use (PORT). Fix: stop the program using it, or set PORT to a free port.`);
    expect(existsSync(path.join(env.DATA_DIR, 'postgres'))).toBe(false);
  });

  it('DATA_DIR in use by a running Hooklane, or by a PostgreSQL: the folder and the process; the running one is untouched', async () => {
    const env = await baseEnv();
    const running = start(env);
    const { postgresPid } = JSON.parse(await running.waitForLine(/"msg":"embedded PostgreSQL started"/)) as { postgresPid: number };
    const { graphqlUrl } = JSON.parse(await running.waitForLine(/"msg":"Hooklane started"/)) as { graphqlUrl: string };
    const clusterDir = path.join(env.DATA_DIR, 'postgres');

    const second = await failingStart(env);
    expect(second).toBe(
      `The database folder ${clusterDir} is in use by another Hooklane (process ${running.child.pid}). Fix: stop that one first, or give this one its own DATA_DIR.`,
    );

    // Without Hooklane's lock, PostgreSQL's own (postmaster.pid) still keeps a second server out.
    await rm(`${clusterDir}.lock`);
    const third = await failingStart(env);
    expect(third).toBe(
      `The database folder ${clusterDir} is in use by another PostgreSQL (process ${postgresPid}). Fix: stop that server (kill ${postgresPid}), or set DATA_DIR to another folder.`,
    );

    // The first still serves on its database.
    const ready = await fetch(new URL('/readyz', graphqlUrl));
    expect(ready.status).toBe(200);
    expect(readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0]).toBe(String(postgresPid));
    running.signal('SIGTERM');
    expect((await running.exit).code).toBe(0);
    expect(processExists(postgresPid)).toBe(false);
    expect(existsSync(path.join(clusterDir, 'postmaster.pid'))).toBe(false);
  });

  it('DATABASE_URL refused: names host and port, at once', async () => {
    const refusing = await refusingPort();
    cleanups.push(() => refusing.release());
    const port = refusing.port;
    const env = await baseEnv({ DATABASE_URL: `postgres://hooklane:secret@127.0.0.1:${port}/hooklane` });
    const line = await failingStart(env);
    expect(line).toBe(`Nothing answers at 127.0.0.1:${port} (DATABASE_URL): connection refused. Fix: start PostgreSQL there, or check DATABASE_URL.`);
    expect(line).not.toContain('secret');
    expect(existsSync(path.join(env.DATA_DIR, 'postgres'))).toBe(false);
  });

  it('DATABASE_URL silent (a server that never answers): a timeout naming host and port, not a hang', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const port = (silent.address() as net.AddressInfo).port;
    const line = await failingStart(await baseEnv({ DATABASE_URL: `postgres://hooklane:secret@127.0.0.1:${port}/hooklane` }));
    expect(line).toMatch(new RegExp(`^The database at 127\\.0\\.0\\.1:${port} \\(DATABASE_URL\\) did not answer within \\d+ s\\. Fix: .*DATABASE_URL\\.$`));
  });

  it('DATA_DIR out of reach: names the folder and the remedies, and starts nothing', async () => {
    // A folder only its owner may enter: under root, the embedded PostgreSQL's own user cannot.
    const privateFolder = await mkdtemp(path.join(os.tmpdir(), 'hooklane-private-'));
    cleanups.push(() => rm(privateFolder, { recursive: true, force: true }));
    if (!isRoot) await chmod(privateFolder, 0o500); // Not root: Hooklane itself may not write there.
    cleanups.push(() => chmod(privateFolder, 0o700));
    const dataDir = path.join(privateFolder, 'data');
    const line = await failingStart(await baseEnv({ DATA_DIR: dataDir }));
    if (isRoot) {
      expect(line).toBe(
        `Hooklane runs as root, so its embedded PostgreSQL runs as the system user "postgres", which cannot enter ${privateFolder}, ` +
          `on the way to the database folder ${dataDir}/postgres. Fix: run Hooklane as a non-root user, set DATA_DIR to a folder that user can enter ` +
          '(for example /var/lib/hooklane), or set DATABASE_URL to a PostgreSQL server.',
      );
      expect(existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'))).toBe(false);
    } else {
      expect(line).toMatch(new RegExp(`^Cannot create the database folder ${dataDir}/postgres \\(EACCES\\)\\. Fix: set DATA_DIR to a folder`));
    }
    expect(existsSync(path.join(dataDir, 'postgres.lock'))).toBe(false);
  });
});
