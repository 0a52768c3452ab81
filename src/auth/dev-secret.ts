import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';

const DEV_SECRET_FILE = 'dev-jwt-secret';

export function authIsConfigured(config: Config): boolean {
  return Boolean(config.auth.jwtSecret || config.auth.jwksUrl);
}

/**
 * With no AUTH_* variable set, Hooklane signs development tokens with a secret kept in DATA_DIR,
 * so `npm start` and `npm run token` agree without any setup.
 */
export function loadOrCreateDevSecret(dataDir: string): string {
  const file = path.join(dataDir, DEV_SECRET_FILE);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** The HS256 secret in force: AUTH_JWT_SECRET, or the development secret when no AUTH_* is set. */
export function effectiveJwtSecret(config: Config): string | undefined {
  if (config.auth.jwtSecret) return config.auth.jwtSecret;
  if (config.auth.jwksUrl) return undefined;
  return loadOrCreateDevSecret(config.dataDir);
}
