import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A server where each test file creates its own database. */
    postgresUrl: string;
  }
}

/** One throwaway PostgreSQL for the whole run: embedded, unless TEST_DATABASE_URL names a server. */
export default async function setup(project: TestProject) {
  if (process.env.TEST_DATABASE_URL) {
    project.provide('postgresUrl', process.env.TEST_DATABASE_URL);
    return;
  }
  const directory = await mkdtemp(path.join(os.tmpdir(), 'hooklane-test-pg-'));
  // Under root, PostgreSQL runs as a separate user that must be able to enter this directory.
  await chmod(directory, 0o755);
  const server = await startEmbeddedPostgres(path.join(directory, 'data'), { persistent: false });
  project.provide('postgresUrl', server.url);
  return async () => {
    await server.stop();
    await rm(directory, { recursive: true, force: true });
  };
}
