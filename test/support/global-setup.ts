import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { StartupError } from '../../src/errors.js';
import { ensureDatabaseReachable } from '../../src/preflight.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A server where each test file creates its own database. */
    postgresUrl: string;
  }
}

/** One throwaway PostgreSQL for the whole run: embedded, unless TEST_DATABASE_URL names a server. */
export default async function setup(project: TestProject) {
  try {
    return await startTestPostgres(project);
  } catch (error) {
    // Vitest reports a failed set-up by the error it is given: say what failed, why, and what to do.
    const reason = error instanceof StartupError ? error.message : ((error as Error)?.stack ?? String(error));
    const [where, hint] = process.env.TEST_DATABASE_URL
      ? ['(TEST_DATABASE_URL) is out of reach', 'start that server, or unset TEST_DATABASE_URL for an embedded one']
      : [
          `(embedded, in ${os.tmpdir()}) could not be started`,
          `${reason.includes(os.tmpdir()) ? 'set TMPDIR to a folder every user can enter, or ' : ''}set TEST_DATABASE_URL to a PostgreSQL server`,
        ];
    throw new Error(`The test run's PostgreSQL ${where}: ${reason} For the tests: ${hint}.`, { cause: error });
  }
}

async function startTestPostgres(project: TestProject) {
  if (process.env.TEST_DATABASE_URL) {
    await ensureDatabaseReachable(process.env.TEST_DATABASE_URL, 'TEST_DATABASE_URL');
    project.provide('postgresUrl', process.env.TEST_DATABASE_URL);
    return undefined;
  }
  const directory = await mkdtemp(path.join(os.tmpdir(), 'hooklane-test-pg-'));
  try {
    // Under root, PostgreSQL runs as a separate user that must be able to enter this directory.
    await chmod(directory, 0o755);
    const server = await startEmbeddedPostgres(path.join(directory, 'data'), { persistent: false });
    project.provide('postgresUrl', server.url);
    return async () => {
      await server.stop();
      await rm(directory, { recursive: true, force: true });
    };
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
}
