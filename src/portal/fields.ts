/// <reference lib="dom" />
// Form parts shared by the settings pages: labelled inputs, and errors shown next to the field the
// API names (`extensions.field`), as well as in the alert region.
import { h, type Child } from './dom.js';
import { PortalError, type DescribedError } from './feedback.js';

type Input = HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;

/** A label, the input and an optional hint (the input's description for screen readers). */
export function labelled(label: string, input: Input, hint?: Child | Child[]): HTMLElement[] {
  const parts: HTMLElement[] = [h('label', { for: input.id }, label), input];
  if (hint) {
    const hintId = `${input.id}-hint`;
    parts.push(h('p', { class: 'hint', id: hintId }, ...[hint].flat()));
    describeBy(input, hintId);
  }
  return parts;
}

/** A form field: its label, then the input, in a `.field` box. */
export function field(label: string, input: Input): HTMLElement {
  return h('div', { class: 'field' }, ...labelled(label, input));
}

/** A checkbox with its label after it. */
export function checkbox(id: string, label: string, checked: boolean): { element: HTMLLabelElement; input: HTMLInputElement } {
  const input = h('input', { type: 'checkbox', id, name: id, checked });
  return { element: h('label', { class: 'checkbox', for: id }, input, ' ', label), input };
}

function describeBy(input: HTMLElement, id: string): void {
  const ids = new Set((input.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean));
  ids.add(id);
  input.setAttribute('aria-describedby', [...ids].join(' '));
}

/** `text, other` → `['text', 'other']`; blanks dropped. */
export function commaList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** An optional whole number: '' is null, anything else must be an integer (the API checks the range). */
export function optionalInteger(value: string, field: string): number | null {
  const trimmed = value.trim();
  if (trimmed === '') return null;
  if (!/^-?\d+$/.test(trimmed)) throw new FieldInputError(field, `${field} must be a whole number, or empty for no limit`);
  return Number(trimmed);
}

/** JSON typed into a text area: '' is null; bad JSON names the field. */
export function parseJsonField(value: string, field: string): unknown {
  if (value.trim() === '') return null;
  try {
    return JSON.parse(value) as unknown;
  } catch (error) {
    throw new FieldInputError(field, `${field} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Input the portal refuses before asking the API, reported like the API's BAD_USER_INPUT. */
export class FieldInputError extends PortalError {
  constructor(field: string, message: string) {
    super('BAD_USER_INPUT', message, field);
  }
}

/**
 * The error slots of one form: `slot(field, input)` puts a message area after the input, and
 * `show(error)` fills the slot of the field the error names (or its nearest registered parent:
 * `auth.basic.username` falls back to `auth`), marking the input `aria-invalid`.
 */
export class FieldErrors {
  private readonly slots = new Map<string, { input: HTMLElement; slot: HTMLElement }>();

  slot(field: string, input: HTMLElement): HTMLElement {
    const slot = h('p', { class: 'field-error', id: `${input.id}-${field.replace(/[^A-Za-z0-9]+/g, '-')}-error`, 'data-field': field, hidden: true });
    describeBy(input, slot.id);
    this.slots.set(field, { input, slot });
    return slot;
  }

  /** Shows `error` next to its field; false when no registered field matches. */
  show(error: DescribedError & { field?: string }): boolean {
    this.clear();
    let field = error.field;
    while (field && !this.slots.has(field)) field = parentField(field);
    const target = field ? this.slots.get(field) : undefined;
    if (!target) return false;
    target.slot.textContent = `${error.code}: ${error.message}${error.path ? ` (at ${error.path})` : ''}`;
    target.slot.hidden = false;
    target.input.setAttribute('aria-invalid', 'true');
    return true;
  }

  clear(): void {
    for (const { input, slot } of this.slots.values()) {
      slot.textContent = '';
      slot.hidden = true;
      input.removeAttribute('aria-invalid');
    }
  }
}

function parentField(field: string): string | undefined {
  const cut = Math.max(field.lastIndexOf('.'), field.lastIndexOf('['));
  return cut > 0 ? field.slice(0, cut) : undefined;
}
