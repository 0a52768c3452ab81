import { parseArgs } from 'node:util';
import { effectiveJwtSecret } from '../auth/dev-secret.js';
import { signHs256Token } from '../auth/jwt.js';
import { loadConfig } from '../config.js';

const USAGE = `Usage: npm run token -- --admin | --tenant <id> [--scope "events:publish ..."] [--expires 30d]
Prints an HS256 JWT signed with AUTH_JWT_SECRET, or with the development secret in DATA_DIR.`;

const { values } = parseArgs({
  options: {
    admin: { type: 'boolean', default: false },
    tenant: { type: 'string' },
    scope: { type: 'string' },
    expires: { type: 'string', default: '30d' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help || (!values.admin && !values.tenant)) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 1);
}

const config = loadConfig();
const secret = effectiveJwtSecret(config);
if (!secret) {
  console.error('AUTH_JWKS_URL is set: tokens come from your identity provider, not from this command.');
  process.exit(1);
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
