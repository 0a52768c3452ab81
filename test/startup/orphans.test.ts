/**
 * The embedded PostgreSQL runs in a session of its own, so no signal of Hooklane's group reaches
 * it. When Hooklane dies without stopping it (SIGKILL), it must not run on forever: a watchdog
 * stops it at once, and should the watchdog be gone too, the next start stops it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS, ensureBuilt } from '../support/dist.js';
import { eventually, TEST_JWT_SECRET } from '../support/hooklane.js';
import { processExists, scratchFolders, type ServerProcess, startServerProcess } from '../support/server-process.js';

/** Processes whose command line holds every one of `parts` (Linux: /proc). */
function processesWith(...parts: string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (parts.every((part) => commandLine.includes(part))) pids.push(Number(entry));
    } catch {
      // Ended meanwhile.
    }
  }
  return pids;
}

describe.runIf(process.platform === 'linux')('an embedded PostgreSQL whose Hooklane was SIGKILLed', { timeout: 180_000 }, () => {
  beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);
  const { cleanups, folder } = scratchFolders('hooklane-orphans-');
  const dataDirectory = async () => path.join(await folder(), 'data');

  const start = async (dataDir: string): Promise<{ server: ServerProcess; postgresPid: number; port: number }> => {
    const server = startServerProcess({
      env: { DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: '0', AUTH_JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'info' },
    });
    cleanups.push(() => server.kill());
    const { postgresPid } = JSON.parse(await server.waitForLine(/"msg":"embedded PostgreSQL started"/)) as { postgresPid: number };
    cleanups.push(async () => {
      if (processExists(postgresPid)) process.kill(postgresPid, 'SIGQUIT');
    });
    const { graphqlUrl } = JSON.parse(await server.waitForLine(/"msg":"Hooklane started"/)) as { graphqlUrl: string };
    const port = Number(new URL(graphqlUrl).port);
    return { server, postgresPid, port };
  };

  it('is stopped by its watchdog at once', async () => {
    const dataDir = await dataDirectory();
    const { server, postgresPid } = await start(dataDir);
    server.child.kill('SIGKILL');
    await server.exit;
    await eventually(async () => (processExists(postgresPid) ? undefined : true), 30_000, 'the orphaned PostgreSQL to stop');
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
  });

  it('without its watchdog, is stopped by the next start, which then runs on the same folder', async () => {
    const dataDir = await dataDirectory();
    const clusterDir = path.join(dataDir, 'postgres');
    const first = await start(dataDir);
    const watchdogs = processesWith('hooklane-postgres-watchdog', clusterDir);
    expect(watchdogs).toHaveLength(1);
    process.kill(watchdogs[0]!, 'SIGKILL');
    first.server.child.kill('SIGKILL');
    await first.server.exit;
    expect(processExists(first.postgresPid)).toBe(true);

    const second = await start(dataDir);
    expect(second.server.stdout).toContain(`stopping the embedded PostgreSQL (process ${first.postgresPid}) that Hooklane process ${first.server.child.pid} left running`);
    expect(processExists(first.postgresPid)).toBe(false);
    expect(second.postgresPid).not.toBe(first.postgresPid);
    expect((await fetch(`http://127.0.0.1:${second.port}/readyz`)).status).toBe(200);

    second.server.signal('SIGTERM');
    expect((await second.server.exit).code).toBe(0);
    expect(processExists(second.postgresPid)).toBe(false);
    expect(processesWith('hooklane-postgres-watchdog', clusterDir)).toEqual([]);
  });
});
