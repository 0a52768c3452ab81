import net from 'node:net';
import postgres from 'postgres';
import { findInErrorChain, StartupError } from './errors.js';

/**
 * Checks made before start-up starts anything, so that a mistake a user can make (a port taken, a
 * database out of reach) ends with one line naming the cause and the fix, not a stack trace.
 */

/**
 * What a failed `listen` means for the user, as a StartupError; other errors are returned as they
 * are. `variable` is the setting that chose the port (PORT, METRICS_PORT).
 */
export function listenError(error: unknown, host: string, port: number, variable: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = `${host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new StartupError(`Port ${port} on ${host} is already in use (${variable})`, `stop the program using it, or set ${variable} to a free port`, { cause: error });
    case 'EACCES':
      return new StartupError(`Not allowed to listen on ${where} (${variable})`, `set ${variable} to a port above 1023, or give Hooklane the right to bind it`, { cause: error });
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StartupError(`${host} is not an address of this machine (HOST)`, 'set HOST to one of its addresses (127.0.0.1, 0.0.0.0, ::)', { cause: error });
    default:
      return error;
  }
}

/** Fails with a StartupError if `host:port` cannot be listened on (port 0 always can). */
export async function ensurePortAvailable(host: string, port: number, variable: string): Promise<void> {
  if (port === 0) return;
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (error) {
    throw listenError(error, host, port, variable);
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

const CONNECT_TIMEOUT_SECONDS = 5;

/** Connects to DATABASE_URL once: an unreachable or misconfigured database fails here, within seconds. */
export async function ensureDatabaseReachable(url: string, variable = 'DATABASE_URL'): Promise<void> {
  const sql = postgres(url, { max: 1, connect_timeout: CONNECT_TIMEOUT_SECONDS, onnotice: () => {} });
  try {
    await sql`select 1`;
  } catch (error) {
    throw databaseError(error, url, variable);
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

function databaseError(error: unknown, url: string, variable: string): unknown {
  const parsed = new URL(url);
  const where = `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}`;
  const database = decodeURIComponent(parsed.pathname.slice(1)) || parsed.username;
  const code = findInErrorChain(error, (candidate) => (typeof candidate.code === 'string' ? candidate.code : undefined));
  const check = `check ${variable}`;
  switch (code) {
    case 'ECONNREFUSED':
      return new StartupError(`Nothing answers at ${where} (${variable}): connection refused`, `start PostgreSQL there, or ${check}`, { cause: error });
    case 'CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new StartupError(
        `The database at ${where} (${variable}) did not answer within ${CONNECT_TIMEOUT_SECONDS} s`,
        `check that PostgreSQL runs there and that the network lets Hooklane reach it, or ${check}`,
        { cause: error },
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StartupError(`The database host ${parsed.hostname} (${variable}) is not found`, `correct the host name in ${variable}`, { cause: error });
    case '28P01':
    case '28000':
      return new StartupError(
        `The database at ${where} (${variable}) refused user "${decodeURIComponent(parsed.username)}": ${(error as Error).message}`,
        `correct the user name and password in ${variable}`,
        { cause: error },
      );
    case '3D000':
      return new StartupError(`The database "${database}" does not exist at ${where} (${variable})`, `create it (createdb ${database}), or ${check}`, { cause: error });
    default:
      return new StartupError(
        `Cannot connect to the database at ${where} (${variable}): ${(error as Error)?.message ?? String(error)}`,
        `check that PostgreSQL runs there and ${check}`,
        { cause: error },
      );
  }
}
