import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Config } from '../config.js';
import { StartupError } from '../errors.js';
import { readOrCreateDevFile } from '../dev-file.js';

export const DEV_SECRET_FILE = 'dev-jwt-secret';

export function authIsConfigured(config: Config): boolean {
  return Boolean(config.auth.jwtSecret || config.auth.jwksUrl);
}

/**
 * The refusal for a configuration that would serve the API on a real database (DATABASE_URL)
 * without AUTH_JWT_SECRET or AUTH_JWKS_URL, or undefined. The development secret is for the
 * zero-setup embedded mode only: anyone who reads DATA_DIR could sign admin tokens with it.
 */
export function missingProductionAuth(config: Config): StartupError | undefined {
  if (!config.databaseUrl || authIsConfigured(config)) return undefined;
  return new StartupError(
    'DATABASE_URL is set but neither AUTH_JWT_SECRET nor AUTH_JWKS_URL is, and the development secret is only for the embedded database',
    'set AUTH_JWT_SECRET (at least 32 bytes) or AUTH_JWKS_URL (with AUTH_AUDIENCE)',
  );
}

/**
 * With no AUTH_* variable set and the embedded database, Hooklane signs development tokens with a
 * secret kept in DATA_DIR, so `npm start` and `npm run token` agree without any setup.
 */
export function loadOrCreateDevSecret(dataDir: string): string {
  return readOrCreateDevFile(path.join(dataDir, DEV_SECRET_FILE), () => randomBytes(32).toString('base64url')).trim();
}

/**
 * The HS256 secret in force: AUTH_JWT_SECRET, or the development secret when no AUTH_* is set in
 * the embedded mode. Throws missingProductionAuth's StartupError with DATABASE_URL and no AUTH_*.
 */
export function effectiveJwtSecret(config: Config): string | undefined {
  if (config.auth.jwtSecret) return config.auth.jwtSecret;
  if (config.auth.jwksUrl) return undefined;
  const refusal = missingProductionAuth(config);
  if (refusal) throw refusal;
  return loadOrCreateDevSecret(config.dataDir);
}
