/// <reference lib="dom" />
// Portal sessions opened from a link (createPortalSession): `…/portal/#session=<token>`. The token
// rides in the fragment, which the browser never sends to a server; the portal takes it out of the
// address at once, so it stays neither in the address bar nor in the tab's history.

const SESSION_FRAGMENT = /^#session=([A-Za-z0-9_.~%-]+)$/;

/** The token of a `#session=<token>` address, removed from the address and history; else null. */
export function takeSessionFromFragment(): string | null {
  const match = SESSION_FRAGMENT.exec(location.hash);
  if (!match) return null;
  // replaceState: the entry with the token is replaced, not followed by a new one.
  history.replaceState(history.state, '', location.pathname + location.search);
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return null;
  }
}

/** What the portal shows of a token: whether it is a read-only session, and when it ends. The API enforces both. */
export interface TokenFacts {
  readOnly: boolean;
  portalSession: boolean;
  /** `exp` in ms since the epoch, when the token has one. */
  expiresAtMs: number | undefined;
}

export function tokenFacts(token: string): TokenFacts {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '='));
    const claims = JSON.parse(json) as Record<string, unknown>;
    return {
      readOnly: claims.read_only === true,
      portalSession: claims.hooklane_portal === true,
      expiresAtMs: typeof claims.exp === 'number' ? claims.exp * 1000 : undefined,
    };
  } catch {
    return { readOnly: false, portalSession: false, expiresAtMs: undefined };
  }
}
