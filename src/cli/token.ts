import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { effectiveJwtSecret } from '../auth/dev-secret.js';
import { signHs256Token } from '../auth/jwt.js';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { StartupError } from '../errors.js';

const usage = (command: string) => `Usage: ${command} --admin | --tenant <id> [--scope "events:publish ..."] [--expires 30d]
Prints an HS256 JWT signed with AUTH_JWT_SECRET, or, with the embedded database and no AUTH_*,
with the development secret in DATA_DIR.`;

/** `npm run token` and `hooklane token`: prints a signed JWT. Returns the exit code. */
export async function tokenCommand(args: string[], command = 'npm run token --'): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      admin: { type: 'boolean', default: false },
      tenant: { type: 'string' },
      scope: { type: 'string' },
      expires: { type: 'string', default: '30d' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });

  if (values.help || (!values.admin && !values.tenant)) {
    console.log(usage(command));
    return values.help ? 0 : 1;
  }

  let config: Config;
  let secret: string | undefined;
  try {
    config = loadConfig();
    secret = effectiveJwtSecret(config);
  } catch (error) {
    if (!(error instanceof StartupError || error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 1;
  }
  if (!secret) {
    console.error('AUTH_JWKS_URL is set: tokens come from your identity provider, not from this command.');
    return 1;
  }
  const claims: Record<string, unknown> = { sub: values.admin ? 'cli-admin' : `cli-${values.tenant}` };
  if (values.admin) claims.roles = ['admin'];
  if (values.tenant) claims[config.auth.tenantClaim] = values.tenant;
  if (values.scope) claims.scope = values.scope;
  console.log(
    await signHs256Token(secret, claims, {
      expiresIn: values.expires,
      issuer: config.auth.issuer,
      audience: config.auth.audience,
    }),
  );
  return 0;
}

// Run as a script (`tsx src/cli/token.ts`), not when imported by the hooklane CLI.
if (process.argv[1] && pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url) {
  process.exitCode = await tokenCommand(process.argv.slice(2));
}
