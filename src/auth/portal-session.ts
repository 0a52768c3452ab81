import type { Config } from '../config.js';
import { signHs256Token } from './jwt.js';
import { PORTAL_SESSION_CLAIM, READ_ONLY_CLAIM, type TenantScopeName } from './viewer.js';

/** createPortalSession's `expiresIn`: 1 hour when omitted, at most 24 hours. */
export const DEFAULT_PORTAL_SESSION = '1h';
export const MAX_PORTAL_SESSION_MS = 24 * 3_600_000;

export interface PortalSessionRequest {
  tenantId: string;
  /** The session's `scope`: never more than the token that asked for it holds. */
  scopes: readonly TenantScopeName[];
  readOnly: boolean;
  lifetimeMs: number;
  /** The `sub` of the token that asked for it, kept in the session's own `sub` for the audit log. */
  createdBy: string | undefined;
}

/**
 * Signs portal session tokens: HS256 with the secret the API verifies tokens with (AUTH_JWT_SECRET
 * or the development secret), bound to one tenant, with the configured issuer and audience so that
 * the API accepts them like any other token, revocation (revokeTokens) included.
 */
export class PortalSessionSigner {
  constructor(
    private readonly secret: string,
    private readonly auth: Pick<Config['auth'], 'issuer' | 'audience' | 'tenantClaim'>,
  ) {}

  async sign(request: PortalSessionRequest, now = Date.now()): Promise<{ token: string; expiresAt: Date }> {
    const expiresAtSeconds = Math.floor((now + request.lifetimeMs) / 1000);
    const claims: Record<string, unknown> = {
      sub: request.createdBy ? `portal-session:${request.createdBy}` : 'portal-session',
      [this.auth.tenantClaim]: request.tenantId,
      [PORTAL_SESSION_CLAIM]: true,
      scope: request.scopes.join(' '),
    };
    if (request.readOnly) claims[READ_ONLY_CLAIM] = true;
    const token = await signHs256Token(this.secret, claims, {
      expiresIn: expiresAtSeconds,
      issuer: this.auth.issuer,
      audience: this.auth.audience,
    });
    return { token, expiresAt: new Date(expiresAtSeconds * 1000) };
  }
}
