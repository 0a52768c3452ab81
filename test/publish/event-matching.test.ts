import { describe, expect, it } from 'vitest';
import {
  BUILT_IN_PREFIX,
  isWildcardPattern,
  patternsMatching,
  subscriptionReceives,
  WILDCARD,
} from '../../src/publish/event-matching.js';

const sub = (eventTypes: string[], channels: string[] | null = null) => ({ eventTypes, channels });
const event = (eventType: string, channels: string[] | null = null) => ({ eventType, channels });

describe('patternsMatching', () => {
  it('lists the name itself, every prefix wildcard from the longest down, then *', () => {
    expect(patternsMatching('invoice.paid.late')).toEqual(['invoice.paid.late', 'invoice.paid.*', 'invoice.*', '*']);
    expect(patternsMatching('invoice.paid')).toEqual(['invoice.paid', 'invoice.*', '*']);
  });

  it('a one-segment name matches only itself and *', () => {
    expect(patternsMatching('order')).toEqual(['order', WILDCARD]);
  });

  it('built-in hooklane.* types are not matched by * but are by hooklane.* and their own prefixes', () => {
    const patterns = patternsMatching('hooklane.delivery.failed');
    expect(BUILT_IN_PREFIX).toBe('hooklane.');
    expect(patterns).toEqual(['hooklane.delivery.failed', 'hooklane.delivery.*', 'hooklane.*']);
    expect(patterns).not.toContain(WILDCARD);
  });

  it('a name that only looks like the built-in prefix is an ordinary type', () => {
    expect(patternsMatching('hooklaneish.x')).toContain(WILDCARD);
    expect(patternsMatching('hooklane')).toEqual(['hooklane', WILDCARD]);
  });

  it('answers a type asked again from memory, and no caller can change that answer', () => {
    const first = patternsMatching('refund.issued');
    expect(patternsMatching('refund.issued')).toBe(first);
    expect(() => (first as string[]).push('order.*')).toThrow(TypeError);
    expect(patternsMatching('refund.issued')).toEqual(['refund.issued', 'refund.*', '*']);
  });
});

describe('isWildcardPattern', () => {
  it.each([
    ['*', true],
    ['invoice.*', true],
    ['invoice.paid.*', true],
    ['invoice', false],
    ['invoice.paid', false],
    ['inv*', false],
    ['*.paid', false],
  ])('%s → %s', (pattern, expected) => {
    expect(isWildcardPattern(pattern)).toBe(expected);
  });
});

describe('subscriptionReceives', () => {
  it('exact names match only that name', () => {
    expect(subscriptionReceives(sub(['invoice.paid']), event('invoice.paid'))).toBe(true);
    expect(subscriptionReceives(sub(['invoice.paid']), event('invoice.paid.late'))).toBe(false);
    expect(subscriptionReceives(sub(['invoice.paid']), event('invoice'))).toBe(false);
  });

  it('prefix.* matches every deeper name under the prefix, not the prefix itself nor a longer sibling word', () => {
    const invoices = sub(['invoice.*']);
    expect(subscriptionReceives(invoices, event('invoice.paid'))).toBe(true);
    expect(subscriptionReceives(invoices, event('invoice.paid.late'))).toBe(true);
    expect(subscriptionReceives(invoices, event('invoice'))).toBe(false);
    expect(subscriptionReceives(invoices, event('invoices.paid'))).toBe(false);
    expect(subscriptionReceives(invoices, event('order.created'))).toBe(false);
    expect(subscriptionReceives(sub(['invoice.paid.*']), event('invoice.paid.late'))).toBe(true);
    expect(subscriptionReceives(sub(['invoice.paid.*']), event('invoice.paid'))).toBe(false);
  });

  it('matching is case-sensitive', () => {
    expect(subscriptionReceives(sub(['Invoice.*']), event('invoice.paid'))).toBe(false);
    expect(subscriptionReceives(sub(['invoice.PAID']), event('invoice.paid'))).toBe(false);
  });

  it('* receives every ordinary type but no built-in one; built-ins need their name or hooklane.*', () => {
    const all = sub(['*']);
    expect(subscriptionReceives(all, event('order'))).toBe(true);
    expect(subscriptionReceives(all, event('invoice.paid.late'))).toBe(true);
    expect(subscriptionReceives(all, event('hooklane.delivery.failed'))).toBe(false);
    expect(subscriptionReceives(sub(['hooklane.*']), event('hooklane.delivery.failed'))).toBe(true);
    expect(subscriptionReceives(sub(['hooklane.delivery.failed']), event('hooklane.delivery.failed'))).toBe(true);
    expect(subscriptionReceives(sub(['*', 'hooklane.subscription.disabled']), event('hooklane.subscription.disabled'))).toBe(true);
  });

  it('any one matching pattern is enough', () => {
    expect(subscriptionReceives(sub(['order.created', 'invoice.*']), event('invoice.paid'))).toBe(true);
    expect(subscriptionReceives(sub(['order.created', 'invoice.*']), event('shipment.sent'))).toBe(false);
  });

  it('a subscription without channels receives events on any channel and on none', () => {
    const any = sub(['*'], null);
    expect(subscriptionReceives(any, event('order.created', null))).toBe(true);
    expect(subscriptionReceives(any, event('order.created', ['eu']))).toBe(true);
    expect(subscriptionReceives(any, event('order.created', ['us', 'apac']))).toBe(true);
  });

  it('a subscription with channels receives only events published on one of them', () => {
    const eu = sub(['order.created'], ['eu']);
    expect(subscriptionReceives(eu, event('order.created', ['eu']))).toBe(true);
    expect(subscriptionReceives(eu, event('order.created', ['us', 'eu']))).toBe(true);
    expect(subscriptionReceives(eu, event('order.created', ['us']))).toBe(false);
    expect(subscriptionReceives(eu, event('order.created', null))).toBe(false);
    expect(subscriptionReceives(eu, event('order.created', []))).toBe(false);
    expect(subscriptionReceives(sub(['order.created'], ['eu', 'us']), event('order.created', ['us']))).toBe(true);
  });

  it('channels never widen the event types: both must match', () => {
    expect(subscriptionReceives(sub(['invoice.*'], ['eu']), event('order.created', ['eu']))).toBe(false);
  });
});
