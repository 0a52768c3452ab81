import { StartupError } from '../errors.js';
import { ensureDatabaseReachable } from '../preflight.js';
import { connectDatabase, type DatabaseClient } from './client.js';
import { APP_ROLE, appRoleAvailable } from './migrate.js';

/** application_name of the read pool's connections, as pg_stat_activity shows them. */
export const READ_POOL_APPLICATION_NAME = 'hooklane-read';

/**
 * The pool on DATABASE_READ_URL for the API's reads that tolerate lag. It takes on the same role
 * as the primary's pool, so row-level security applies to it exactly as there, and every one of
 * its transactions is read-only: a write that reached it would fail rather than write.
 * Start-up fails with a StartupError when the URL does not answer, or when its user may not take
 * on the role the primary's pool does.
 */
export async function openReadPool(url: string, role: string | undefined, max: number): Promise<DatabaseClient> {
  await ensureDatabaseReachable(url, 'DATABASE_READ_URL');
  if (role === APP_ROLE) {
    const probe = connectDatabase(url, { max: 1, applicationName: READ_POOL_APPLICATION_NAME });
    try {
      if (!(await appRoleAvailable(probe.db))) {
        const user = decodeURIComponent(new URL(url).username) || 'its user';
        throw new StartupError(
          `The user of DATABASE_READ_URL (${user}) may not take on the role ${APP_ROLE}, under which the primary's connections run with row-level security`,
          `on the primary, run GRANT ${APP_ROLE} TO ${user} (it reaches the replica with the rest of the catalog)`,
        );
      }
    } finally {
      await probe.close();
    }
  }
  return connectDatabase(url, { max, role, applicationName: READ_POOL_APPLICATION_NAME, readOnly: true });
}
