/// <reference lib="dom" />
// Hooklane's self-service portal: the browser entry point, bundled by src/portal/bundle.ts.
// Sign-in with a pasted tenant token (kept in sessionStorage), then hash-routed pages built on the
// SDK client. The SDK is imported module by module: its index also exports the webhook verifier,
// which needs node:crypto.
import { createClient, type HooklaneClient } from '@hooklane/sdk';
import { Store, type ViewContext } from './context.js';
import { showDeliveries } from './deliveries.js';
import { showDelivery } from './delivery.js';
import { byId, h, replaceChildren } from './dom.js';
import { showEvents } from './events.js';
import { Feedback, PortalError } from './feedback.js';
import { showCatalog } from './catalog.js';
import { showSubscriptionPage } from './subscription-page.js';
import { showOverview } from './overview.js';
import { takeSessionFromFragment, tokenFacts } from './session.js';
import { showSubscriptions } from './subscriptions.js';

const TOKEN_KEY = 'hooklane.portal.token';
const GRAPHQL_URL = '/graphql';

const feedback = new Feedback(byId('busy'), byId('alert'), byId('notice'));
const main = byId('main');
const nav = byId('nav');
const who = byId('who');

let session: { client: HooklaneClient; store: Store; expiry: ReturnType<typeof setTimeout> | undefined } | undefined;
let generation = 0;

const SESSION_ENDED = 'Your session has ended: it expired or was revoked. Open the portal again from the application that sent you here, or sign in with a new token.';
feedback.onUnauthenticated = () => {
  if (!session) return false;
  signOut(SESSION_ENDED);
  return true;
};

function readToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Checks the token by reading its tenant; resolves to the tenant or undefined (the error is shown). */
async function signIn(token: string, control?: HTMLButtonElement): Promise<boolean> {
  const client = createClient({ url: GRAPHQL_URL, token });
  const tenant = await feedback.run(
    'Signing in',
    async () => {
      const found = await client.tenant();
      if (!found) throw new PortalError('FORBIDDEN', 'This token names no tenant: paste a tenant token (npm run token -- --tenant <id>).');
      return found;
    },
    { control },
  );
  if (!tenant) return false;
  sessionStorage.setItem(TOKEN_KEY, token);
  const facts = tokenFacts(token);
  // Back to the sign-in screen when the session ends, rather than at the next refused request.
  const remainingMs = facts.expiresAtMs === undefined ? undefined : facts.expiresAtMs - Date.now();
  const expiry = remainingMs !== undefined && remainingMs < 2 ** 31 - 1 ? setTimeout(() => signOut(SESSION_ENDED), Math.max(0, remainingMs)) : undefined;
  if (session?.expiry) clearTimeout(session.expiry);
  session = { client, store: new Store(client), expiry };
  document.body.classList.toggle('read-only', facts.readOnly);
  replaceChildren(
    who,
    facts.readOnly ? h('span', { class: 'badge badge-read-only', title: 'This session can look but not change anything' }, 'read-only') : null,
    ' ',
    h('span', { class: 'tenant-name', title: tenant.id }, tenant.name),
    ' ',
    h('span', { class: 'id' }, tenant.id),
    ' ',
    h('button', { type: 'button', class: 'link', id: 'sign-out', onclick: () => signOut() }, 'Sign out'),
  );
  nav.hidden = false;
  return true;
}

/** Forgets the token and everything the page shows of the signed-in tenant. */
function forgetSession(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  if (session?.expiry) clearTimeout(session.expiry);
  session = undefined;
  who.replaceChildren();
  nav.hidden = true;
  document.body.classList.remove('read-only');
}

/** Forgets the token and shows the sign-in screen, with why when the session ended by itself. */
function signOut(reason?: string): void {
  forgetSession();
  feedback.clearNotice();
  feedback.clearError();
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  showSignIn(reason);
}

function showSignIn(reason?: string): void {
  generation++;
  const token = h('textarea', { id: 'token', name: 'token', rows: 4, required: true, spellcheck: 'false', autocomplete: 'off', placeholder: 'eyJhbGciOi…' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'card sign-in', 'aria-labelledby': 'sign-in-heading' },
    h('h2', { id: 'sign-in-heading' }, 'Sign in'),
    reason ? h('p', { class: 'signed-out-reason', role: 'alert' }, reason) : null,
    h('p', {}, 'Paste a tenant token. Get one with ', h('code', {}, 'npm run token -- --tenant <id>'), '. It is kept for this tab only (sessionStorage).'),
    h('label', { for: 'token' }, 'Token'),
    token,
    h('div', { class: 'actions' }, submit),
  );
  form.onsubmit = async (event) => {
    event.preventDefault();
    const value = token.value.trim().replace(/^Bearer\s+/i, '');
    if (await signIn(value, submit)) route();
  };
  replaceChildren(main, form);
  token.focus();
}

function route(): void {
  if (!session) return showSignIn();
  const current = ++generation;
  const view: ViewContext = { client: session.client, store: session.store, feedback, main, isCurrent: () => current === generation && session !== undefined };
  const hash = location.hash.replace(/^#\/?/, '');
  const [page, id] = hash.split('/', 2);
  for (const link of Array.from(nav.querySelectorAll('a'))) {
    // One delivery (#/deliveries/<id>) is reached from the events; the list is its own page.
    const section = page === 'deliveries' && id ? 'events' : page || 'subscriptions';
    const active = link.getAttribute('href') === `#/${section}`;
    if (active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  feedback.clearNotice();
  let shown: Promise<void>;
  if (page === 'overview') shown = showOverview(view);
  else if (page === 'events') shown = showEvents(view);
  else if (page === 'deliveries' && id) shown = showDelivery(view, decodeURIComponent(id));
  else if (page === 'subscriptions' && id) shown = showSubscriptionPage(view, decodeURIComponent(id));
  else if (page === 'catalog') shown = showCatalog(view);
  else if (page === 'deliveries') shown = showDeliveries(view);
  else shown = showSubscriptions(view);
  shown.catch((error: unknown) => feedback.showError(error, 'Showing the page'));
  main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', () => {
  // A session link opened in a tab that shows the portal already changes only the fragment.
  const opened = takeSessionFromFragment();
  if (opened) void openSession(opened);
  else route();
});

/** Signs in with the token of a session link, in place of any token the tab held. */
async function openSession(token: string): Promise<void> {
  forgetSession();
  if (await signIn(token)) return route();
  showSignIn('This portal link did not sign you in: it may have expired or been revoked. Ask the application that sent you here for a new one.');
}

async function start(): Promise<void> {
  const opened = takeSessionFromFragment();
  if (opened) return openSession(opened);
  const token = readToken();
  if (token && (await signIn(token))) return route();
  if (token) sessionStorage.removeItem(TOKEN_KEY);
  showSignIn();
}

void start();
