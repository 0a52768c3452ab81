/// <reference lib="dom" />
// Progress, errors and notices. Every request the portal makes goes through `run`, which shows the
// busy indicator while it runs and puts any error in the alert region: nothing is swallowed.
import { HooklaneError } from '@hooklane/sdk';
import { h, replaceChildren } from './dom.js';

export interface DescribedError {
  code: string;
  message: string;
  field?: string;
  /** Where in the field's value the problem is, when the API says (`extensions.details.path`, e.g. a filter's `data.amount`). */
  path?: string;
}

/** A failure the portal itself detects (e.g. a token that names no tenant), shown like an API error. */
export class PortalError extends Error {
  override readonly name = 'PortalError';
  constructor(
    readonly code: string,
    message: string,
    /** The input at fault, for input the portal refuses before asking the API. */
    readonly field?: string,
  ) {
    super(message);
  }
}

export function describeError(error: unknown): DescribedError {
  if (error instanceof HooklaneError) {
    const details = error.extensions.details as { path?: unknown } | null | undefined;
    const path = typeof details?.path === 'string' && details.path !== '' ? details.path : undefined;
    return { code: error.code, message: error.message, field: error.field, path };
  }
  if (error instanceof PortalError) return { code: error.code, message: error.message, field: error.field };
  if (error instanceof Error) return { code: error.name === 'Error' ? 'CLIENT_ERROR' : error.name, message: error.message };
  return { code: 'CLIENT_ERROR', message: String(error) };
}

export interface RunOptions {
  /** Disabled while the request runs (e.g. the button that started it). */
  control?: HTMLButtonElement | HTMLFieldSetElement | null;
  /** Background refreshes: no busy indicator (errors are still shown). */
  quiet?: boolean;
  /** Leave the current alert in place (default: a new action clears it). */
  keepAlert?: boolean;
  /** Also told of a failure (after the alert shows it), e.g. to mark the field at fault. */
  onError?: (error: DescribedError) => void;
}

export class Feedback {
  private readonly labels = new Map<number, string>();
  private nextId = 0;
  /**
   * Called when the API answers UNAUTHENTICATED (the token expired or was revoked); true when it
   * dealt with it (the app returns to its sign-in screen), and the error is not shown here.
   */
  onUnauthenticated: ((message: string) => boolean) | undefined;

  constructor(
    private readonly busy: HTMLElement,
    private readonly alert: HTMLElement,
    private readonly notice: HTMLElement,
  ) {}

  /** Runs `task` showing `label` as progress; resolves to its result, or to undefined after showing its error. */
  async run<T>(label: string, task: () => Promise<T>, options: RunOptions = {}): Promise<T | undefined> {
    if (!options.quiet) this.clearNotice();
    if (!options.keepAlert && !options.quiet) this.clearError();
    const id = this.nextId++;
    if (!options.quiet) this.start(id, label);
    if (options.control) options.control.disabled = true;
    try {
      return await task();
    } catch (error) {
      this.showError(error, label);
      options.onError?.(describeError(error));
      return undefined;
    } finally {
      if (options.control) options.control.disabled = false;
      if (!options.quiet) this.finish(id);
    }
  }

  showError(error: unknown, during?: string): void {
    const { code, message, field } = describeError(error);
    if (code === 'UNAUTHENTICATED' && this.onUnauthenticated?.(message)) return;
    // Also in the console, with the stack and the GraphQL errors, for whoever is debugging.
    console.error(during ? `${during} failed:` : 'Error:', error);
    replaceChildren(
      this.alert,
      h(
        'div',
        { class: 'alert-body' },
        h('strong', { class: 'alert-code', 'data-code': code }, code),
        ' ',
        h('span', { class: 'alert-message' }, message),
        field ? h('span', { class: 'alert-field' }, ` (field: ${field})`) : null,
        during ? h('div', { class: 'alert-context' }, `While: ${during}`) : null,
        code === 'UNAUTHENTICATED' ? h('div', { class: 'alert-context' }, 'Your token may have expired: sign out and paste a new one.') : null,
      ),
      h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss the error', onclick: () => this.clearError() }, 'Dismiss'),
    );
    this.alert.hidden = false;
  }

  clearError(): void {
    this.alert.replaceChildren();
    this.alert.hidden = true;
  }

  /** A short success message in a polite live region. */
  say(message: string | Node): void {
    replaceChildren(this.notice, message);
    this.notice.hidden = false;
  }

  clearNotice(): void {
    this.notice.replaceChildren();
    this.notice.hidden = true;
  }

  private start(id: number, label: string): void {
    this.labels.set(id, label);
    this.render();
  }

  private finish(id: number): void {
    this.labels.delete(id);
    this.render();
  }

  private render(): void {
    const labels = [...this.labels.values()];
    document.body.setAttribute('aria-busy', labels.length > 0 ? 'true' : 'false');
    this.busy.hidden = labels.length === 0;
    const text = this.busy.querySelector('.busy-label');
    if (text) text.textContent = labels.length === 0 ? '' : `${labels.at(-1)}…`;
  }
}

/** Copies `text`: the Clipboard API where the page may use it, else selects `source` (and tries execCommand). */
export async function copyToClipboard(text: string, source: HTMLElement): Promise<'copied' | 'selected'> {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return 'copied';
    } catch {
      // Permission refused or no focus: fall back to a selection the user can copy.
    }
  }
  const selection = window.getSelection();
  const range = document.createRange();
  range.selectNodeContents(source);
  selection?.removeAllRanges();
  selection?.addRange(range);
  try {
    if (document.execCommand('copy')) return 'copied';
  } catch {
    // Not supported: the text stays selected.
  }
  return 'selected';
}

/** A secret shown once, with a Copy button. */
export function secretPanel(options: { title: string; secret: string; onClose: () => void }): HTMLElement {
  const value = h('code', { class: 'secret-value', 'data-testid': 'secret-value' }, options.secret);
  const status = h('span', { class: 'copy-status', role: 'status' });
  const copy = h(
    'button',
    {
      type: 'button',
      onclick: async () => {
        const outcome = await copyToClipboard(options.secret, value);
        status.textContent = outcome === 'copied' ? 'Copied to the clipboard.' : 'Selected: press Ctrl+C (⌘C) to copy.';
      },
    },
    'Copy',
  );
  return h(
    'section',
    { class: 'secret-panel', 'aria-label': 'Signing secret' },
    h('h3', {}, options.title),
    h('p', {}, 'Store this signing secret now: it is not shown again. Receivers verify signatures with it.'),
    h('div', { class: 'secret-row' }, value, copy, status),
    h('button', { type: 'button', class: 'link', onclick: options.onClose }, 'I have stored it — hide'),
  );
}
