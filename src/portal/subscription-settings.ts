/// <reference lib="dom" />
// What every settings section of the subscription page shares: the subscription as last read, and
// one way to save a change to it (updateSubscription), with errors next to the field at fault.
import type { UpdateSubscriptionInput, WebhookSubscription } from '@hooklane/sdk';
import type { ViewContext } from './context.js';
import { h, type Child } from './dom.js';
import type { FieldErrors } from './fields.js';

export type SubscriptionChanges = Omit<UpdateSubscriptionInput, 'id'>;

export interface SubscriptionPage {
  view: ViewContext;
  /** The subscription as the API last returned it. */
  current(): WebhookSubscription;
  /**
   * Saves `changes` (a function may throw a FieldInputError for input refused before asking the
   * API); resolves to the updated subscription, or undefined once the error is shown. The section
   * that saved re-renders itself with it; the others keep what is being typed in them.
   */
  save(
    label: string,
    changes: SubscriptionChanges | (() => SubscriptionChanges),
    options: { control: HTMLButtonElement; errors: FieldErrors; done: string },
  ): Promise<WebhookSubscription | undefined>;
}

/** Re-renders `render`'s section with the saved subscription once a save succeeds. */
export function thenRender(saving: Promise<WebhookSubscription | undefined>, render: (subscription: WebhookSubscription) => void): void {
  void saving.then((saved) => saved && render(saved));
}

/** A card `<section>` labelled by its heading. */
export function sectionCard(id: string, title: string, ...children: (Child | Child[])[]): HTMLElement {
  return h('section', { class: 'card settings', id, 'aria-labelledby': `${id}-heading` }, h('h3', { id: `${id}-heading` }, title), ...children);
}
