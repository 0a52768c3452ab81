/// <reference lib="dom" />
// The subscription page's write-only endpoint settings: custom headers, endpoint authentication
// and TLS (client certificate, private CA). The API never shows their values again, only
// `headerNames`, `authType` and `tls { clientCertificateExpiresAt caConfigured }`.
import type { SubscriptionAuthInput, SubscriptionTlsInput, WebhookSubscription } from '@hooklane/sdk';
import { h, replaceChildren, time } from './dom.js';
import { FieldErrors, FieldInputError, labelled } from './fields.js';
import { sectionCard, thenRender, type SubscriptionPage } from './subscription-settings.js';

/** Custom headers: the page lists their names; saving replaces the whole set, so kept values are typed again. */
export function headersSection(page: SubscriptionPage): HTMLElement {
  const element = sectionCard('subscription-headers', 'Custom headers');
  const form = h('form', { novalidate: true, 'data-mutates': true });

  const render = (subscription: WebhookSubscription) => {
    const errors = new FieldErrors();
    const rows = h('div', { class: 'header-rows', id: 'header-rows', role: 'group', 'aria-label': 'Headers to send' });
    let counter = 0;
    const addRow = (name = '') => {
      const n = ++counter;
      const nameInput = h('input', { type: 'text', id: `header-${n}-name`, class: 'header-name', autocomplete: 'off', spellcheck: 'false', placeholder: 'X-Api-Key', value: name, 'aria-label': `Header ${n} name` });
      const valueInput = h('input', {
        type: 'text',
        id: `header-${n}-value`,
        class: 'header-value',
        autocomplete: 'off',
        spellcheck: 'false',
        placeholder: name ? 'type the value again (values are never shown)' : 'value',
        'aria-label': `Header ${n} value`,
      });
      const row = h('div', { class: 'header-row' }, nameInput, valueInput);
      row.append(h('button', { type: 'button', class: 'link', 'aria-label': `Remove header ${n}`, onclick: () => row.remove() }, 'Remove'));
      rows.append(row);
    };
    for (const name of subscription.headerNames) addRow(name);
    const add = h('button', { type: 'button', onclick: () => addRow() }, 'Add header');
    const save = h('button', { type: 'submit', class: 'primary', 'data-mutates': true }, 'Save headers');
    const removeAll = h('button', { type: 'button', 'data-mutates': true, disabled: subscription.headerNames.length === 0 }, 'Remove all headers');

    replaceChildren(
      form,
      h(
        'p',
        { class: 'hint' },
        'Sent with every attempt. Now: ',
        h(
          'span',
          { id: 'header-names' },
          subscription.headerNames.length === 0 ? 'none' : subscription.headerNames.map((name) => h('span', { class: 'chip' }, name)),
        ),
      ),
      h(
        'p',
        { class: 'hint' },
        'Values are stored sealed and never shown: saving replaces every header, so give the value of each header you keep. At most 20 headers; ',
        h('code', {}, 'webhook-*'),
        ', ',
        h('code', {}, 'content-type'),
        ', ',
        h('code', {}, 'host'),
        ' and other headers Hooklane sets are refused.',
      ),
      rows,
      errors.slot('headers', rows),
      h('div', { class: 'actions' }, add, save, removeAll),
    );

    form.onsubmit = (event) => {
      event.preventDefault();
      const changes = () => {
        const headers: Record<string, string> = {};
        for (const row of Array.from(rows.querySelectorAll('.header-row'))) {
          const name = (row.querySelector('.header-name') as HTMLInputElement).value.trim();
          const value = (row.querySelector('.header-value') as HTMLInputElement).value;
          if (name === '' && value === '') continue;
          if (name === '') throw new FieldInputError('headers', 'headers: a header has a value but no name');
          if (value === '') throw new FieldInputError('headers', `headers: give the value of ${name} (values are never shown, so a kept header is typed again)`);
          headers[name] = value;
        }
        return { headers: Object.keys(headers).length > 0 ? headers : null };
      };
      thenRender(page.save('Saving the headers', changes, { control: save, errors, done: 'Headers saved.' }), render);
    };
    removeAll.onclick = () => thenRender(page.save('Removing the headers', { headers: null }, { control: removeAll, errors, done: 'Headers removed.' }), render);
  };

  render(page.current());
  element.append(form);
  return element;
}

type AuthKind = 'NONE' | 'BEARER' | 'BASIC' | 'OAUTH2';

const AUTH_LABELS: Record<AuthKind, string> = {
  NONE: 'None',
  BEARER: 'Bearer token',
  BASIC: 'Basic (username and password)',
  OAUTH2: 'OAuth 2.0 client credentials',
};

/** Endpoint authentication: none, bearer, basic or OAuth 2.0 client credentials. */
export function authSection(page: SubscriptionPage): HTMLElement {
  const element = sectionCard('subscription-auth', 'Endpoint authentication');
  const form = h('form', { novalidate: true, 'data-mutates': true });

  const render = (subscription: WebhookSubscription) => {
    const errors = new FieldErrors();
    const current = (subscription.authType in AUTH_LABELS ? subscription.authType : 'NONE') as AuthKind;
    const kind = h(
      'select',
      { id: 'auth-kind', name: 'authKind' },
      (Object.keys(AUTH_LABELS) as AuthKind[]).map((value) => h('option', { value, selected: value === current }, AUTH_LABELS[value])),
    );
    const input = (id: string, type = 'text', placeholder?: string) => h('input', { id, name: id, type, autocomplete: type === 'password' ? 'new-password' : 'off', spellcheck: 'false', placeholder });
    const bearerToken = input('auth-bearer-token', 'password');
    const basicUsername = input('auth-basic-username');
    const basicPassword = input('auth-basic-password', 'password');
    const tokenUrl = input('auth-oauth2-token-url', 'url', 'https://auth.example.com/oauth/token');
    const clientId = input('auth-oauth2-client-id');
    const clientSecret = input('auth-oauth2-client-secret', 'password');
    const scope = input('auth-oauth2-scope', 'text', 'optional');
    const audience = input('auth-oauth2-audience', 'text', 'optional');
    const groups: Record<Exclude<AuthKind, 'NONE'>, HTMLElement> = {
      BEARER: h('fieldset', {}, h('legend', {}, 'Bearer token'), labelled('Token', bearerToken), errors.slot('auth.bearer.token', bearerToken)),
      BASIC: h(
        'fieldset',
        {},
        h('legend', {}, 'Basic authentication'),
        labelled('Username', basicUsername),
        errors.slot('auth.basic.username', basicUsername),
        labelled('Password', basicPassword),
        errors.slot('auth.basic.password', basicPassword),
      ),
      OAUTH2: h(
        'fieldset',
        {},
        h('legend', {}, 'OAuth 2.0 client credentials'),
        labelled('Token URL', tokenUrl),
        errors.slot('auth.oauth2.tokenUrl', tokenUrl),
        labelled('Client id', clientId),
        errors.slot('auth.oauth2.clientId', clientId),
        labelled('Client secret', clientSecret),
        errors.slot('auth.oauth2.clientSecret', clientSecret),
        labelled('Scope', scope),
        errors.slot('auth.oauth2.scope', scope),
        labelled('Audience', audience),
        errors.slot('auth.oauth2.audience', audience),
      ),
    };
    const showGroup = () => {
      for (const [name, group] of Object.entries(groups)) group.hidden = name !== kind.value;
    };
    kind.onchange = showGroup;
    showGroup();
    const save = h('button', { type: 'submit', class: 'primary', 'data-mutates': true }, 'Save authentication');

    replaceChildren(
      form,
      h('p', { class: 'hint' }, 'Now: ', h('strong', { id: 'auth-type' }, subscription.authType), '. Credentials are stored sealed and never shown: saving replaces them.'),
      labelled('Authentication', kind),
      errors.slot('auth', kind),
      Object.values(groups),
      h('div', { class: 'actions' }, save),
    );

    form.onsubmit = (event) => {
      event.preventDefault();
      const changes = (): { auth: SubscriptionAuthInput | null } => {
        switch (kind.value as AuthKind) {
          case 'BEARER':
            return { auth: { bearer: { token: bearerToken.value.trim() } } };
          case 'BASIC':
            return { auth: { basic: { username: basicUsername.value, password: basicPassword.value } } };
          case 'OAUTH2':
            return {
              auth: {
                oauth2: {
                  tokenUrl: tokenUrl.value.trim(),
                  clientId: clientId.value.trim(),
                  clientSecret: clientSecret.value,
                  scope: scope.value.trim() || undefined,
                  audience: audience.value.trim() || undefined,
                },
              },
            };
          default:
            return { auth: null };
        }
      };
      thenRender(
        page.save(kind.value === 'NONE' ? 'Removing the authentication' : 'Saving the authentication', changes, {
          control: save,
          errors,
          done: kind.value === 'NONE' ? 'Authentication removed.' : 'Authentication saved.',
        }),
        render,
      );
    };
  };

  render(page.current());
  element.append(form);
  return element;
}

/** A PEM text area with a file picker that fills it. */
function pemField(id: string, label: string, placeholder: string) {
  const area = h('textarea', { id, name: id, rows: 4, spellcheck: 'false', autocomplete: 'off', placeholder });
  const file = h('input', { type: 'file', id: `${id}-file`, accept: '.pem,.crt,.cer,.key,text/plain', 'aria-label': `${label} from a file` });
  file.onchange = async () => {
    const chosen = file.files?.[0];
    if (chosen) area.value = await chosen.text();
  };
  return { area, parts: [...labelled(label, area), h('div', { class: 'file-row' }, file)] };
}

/** Client certificate (mTLS) and a private CA for the endpoint. */
export function tlsSection(page: SubscriptionPage): HTMLElement {
  const element = sectionCard('subscription-tls', 'TLS: client certificate and private CA');
  const form = h('form', { novalidate: true, 'data-mutates': true });

  const render = (subscription: WebhookSubscription) => {
    const errors = new FieldErrors();
    const certificate = pemField('tls-client-certificate', 'Client certificate (PEM)', '-----BEGIN CERTIFICATE-----');
    const key = pemField('tls-client-key', 'Client key (PEM, unencrypted)', '-----BEGIN PRIVATE KEY-----');
    const ca = pemField('tls-ca-certificate', 'Trusted CA certificates (PEM)', '-----BEGIN CERTIFICATE-----');
    const save = h('button', { type: 'submit', class: 'primary', 'data-mutates': true }, 'Save TLS settings');
    const configured = subscription.tls.clientCertificateExpiresAt !== null || subscription.tls.caConfigured;
    const remove = h('button', { type: 'button', 'data-mutates': true, disabled: !configured }, 'Remove TLS settings');

    replaceChildren(
      form,
      h(
        'dl',
        { class: 'facts compact' },
        h('dt', {}, 'Client certificate'),
        h('dd', { id: 'tls-client-expires' }, subscription.tls.clientCertificateExpiresAt ? ['expires ', time(subscription.tls.clientCertificateExpiresAt)] : 'none'),
        h('dt', {}, 'Private CA'),
        h('dd', { id: 'tls-ca-configured' }, subscription.tls.caConfigured ? 'configured' : 'none (the system’s CAs only)'),
      ),
      h(
        'p',
        { class: 'hint' },
        'For https URLs. The certificate (then any intermediates) and its key go together; the CA certificates are trusted for this endpoint only, beside the system’s. Saving replaces all three: give the key again with a new CA. The key is stored sealed and never shown.',
      ),
      certificate.parts,
      errors.slot('tls.clientCertificate', certificate.area),
      key.parts,
      errors.slot('tls.clientKey', key.area),
      ca.parts,
      errors.slot('tls.caCertificate', ca.area),
      errors.slot('tls', ca.area),
      h('div', { class: 'actions' }, save, remove),
    );

    form.onsubmit = (event) => {
      event.preventDefault();
      const changes = (): { tls: SubscriptionTlsInput } => {
        const tls: SubscriptionTlsInput = {};
        if (certificate.area.value.trim()) tls.clientCertificate = certificate.area.value;
        if (key.area.value.trim()) tls.clientKey = key.area.value;
        if (ca.area.value.trim()) tls.caCertificate = ca.area.value;
        if (Object.keys(tls).length === 0) throw new FieldInputError('tls', 'tls: paste or pick a client certificate and key, CA certificates, or all three (Remove TLS settings clears them)');
        return { tls };
      };
      thenRender(page.save('Saving the TLS settings', changes, { control: save, errors, done: 'TLS settings saved.' }), render);
    };
    remove.onclick = () => thenRender(page.save('Removing the TLS settings', { tls: null }, { control: remove, errors, done: 'TLS settings removed.' }), render);
  };

  render(page.current());
  element.append(form);
  return element;
}
