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
import { showSubscriptions } from './subscriptions.js';

const TOKEN_KEY = 'hooklane.portal.token';
const GRAPHQL_URL = '/graphql';

const feedback = new Feedback(byId('busy'), byId('alert'), byId('notice'));
const main = byId('main');
const nav = byId('nav');
const who = byId('who');

let session: { client: HooklaneClient; store: Store } | undefined;
let generation = 0;

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
  session = { client, store: new Store(client) };
  replaceChildren(
    who,
    h('span', { class: 'tenant-name', title: tenant.id }, tenant.name),
    ' ',
    h('span', { class: 'id' }, tenant.id),
    ' ',
    h('button', { type: 'button', class: 'link', id: 'sign-out', onclick: signOut }, 'Sign out'),
  );
  nav.hidden = false;
  return true;
}

function signOut(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  session = undefined;
  who.replaceChildren();
  nav.hidden = true;
  feedback.clearNotice();
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  showSignIn();
}

function showSignIn(): void {
  generation++;
  const token = h('textarea', { id: 'token', name: 'token', rows: 4, required: true, spellcheck: 'false', autocomplete: 'off', placeholder: 'eyJhbGciOi…' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'card sign-in', 'aria-labelledby': 'sign-in-heading' },
    h('h2', { id: 'sign-in-heading' }, 'Sign in'),
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
  if (page === 'events') shown = showEvents(view);
  else if (page === 'deliveries' && id) shown = showDelivery(view, decodeURIComponent(id));
  else if (page === 'deliveries') shown = showDeliveries(view);
  else shown = showSubscriptions(view);
  shown.catch((error: unknown) => feedback.showError(error, 'Showing the page'));
  main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', route);

async function start(): Promise<void> {
  const token = readToken();
  if (token && (await signIn(token))) return route();
  if (token) sessionStorage.removeItem(TOKEN_KEY);
  showSignIn();
}

void start();
