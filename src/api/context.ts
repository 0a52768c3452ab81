import type { Sql } from 'postgres';
import type { Viewer } from '../auth/viewer.js';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import type { PayloadSchemas } from '../domain/payload-schemas.js';
import type { Loaders } from './loaders.js';

/** Long-lived things every request may use. */
export interface ApiServices {
  config: Config;
  db: Database;
  sql: Sql;
  schemas: PayloadSchemas;
}

export interface RequestContext {
  viewer: Viewer;
  services: ApiServices;
  /** Batched loaders for the tenant the request acts for; created on first use. */
  loaders(tenantId: string): Loaders;
}
