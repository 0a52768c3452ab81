import { BadUserInputError } from '../errors.js';
import type { TenantScope } from '../db/tenant-scope.js';
import { isWildcardPattern, patternsMatching } from '../publish/event-matching.js';
import { BUILT_IN_EVENT_TYPE_NAMES } from '../publish/operational-events.js';
import { compileFilter, type CompiledFilter, type FilterDocument } from '../publish/payload-filter.js';
import { filterSchemaProblem, type EventTypeSchema } from './filter-schema-check.js';
import { optionalIntegerInRange, requireEventTypePatterns } from './input-rules.js';

export const DEFAULT_PREVIEW_EVENTS = 100;
export const MAX_PREVIEW_EVENTS = 1_000;
const PREVIEW_PAGE = 100;

/**
 * Checks a payload filter for a subscription to `patterns` (already checked names and wildcards):
 * its language and bounds, then the JSON Schemas of the event types it receives today. Returns
 * the filter to store (a plain copy) and its compiled form; BAD_USER_INPUT on field `filter`.
 */
export async function checkSubscriptionFilter(
  scope: TenantScope,
  filter: unknown,
  patterns: readonly string[],
): Promise<{ stored: unknown; compiled: CompiledFilter }> {
  const compiled = compileFilter(filter);
  assertPossible(compiled, await subscribedEventTypes(scope, patterns));
  // GraphQL hands JSON literals over as null-prototype objects; store a plain copy.
  return { stored: JSON.parse(JSON.stringify(filter)) as unknown, compiled };
}

/**
 * The event types that `patterns` subscribe to today, with their schemas; built-in ones have
 * none (anything is possible in their `data`).
 */
async function subscribedEventTypes(scope: TenantScope, patterns: readonly string[]): Promise<EventTypeSchema[]> {
  const receives = (name: string) => patternsMatching(name).some((pattern) => patterns.includes(pattern));
  const builtIns = BUILT_IN_EVENT_TYPE_NAMES.filter(receives).map((name) => ({ name, schema: null }));
  return [...(await scope.eventTypes.matching(patterns)), ...builtIns];
}

function assertPossible(compiled: CompiledFilter, eventTypes: readonly EventTypeSchema[]): void {
  const problem = filterSchemaProblem(compiled.conditions, eventTypes);
  if (problem) throw new BadUserInputError(problem.message, 'filter', { path: problem.path });
}

/**
 * Runs a filter over the tenant's last `last` events of the event types `eventTypes` names (as a
 * subscription names them: wildcards too), newest first, and counts those it matches. Reads only.
 */
export async function previewSubscriptionFilter(
  scope: TenantScope,
  input: { filter: unknown; eventTypes: readonly string[]; last?: number | null },
): Promise<{ examined: number; matched: number }> {
  const last = optionalIntegerInRange(input.last, 'last', 1, MAX_PREVIEW_EVENTS) ?? DEFAULT_PREVIEW_EVENTS;
  const patterns = requireEventTypePatterns(input.eventTypes);
  const compiled = compileFilter(input.filter);
  const eventTypes = await subscribedEventTypes(scope, patterns);
  const names = eventTypes.map((eventType) => eventType.name);
  const missing = patterns.filter((pattern) => !isWildcardPattern(pattern) && !names.includes(pattern));
  if (missing.length > 0) throw new BadUserInputError(`unknown event type(s): ${missing.join(', ')}`, 'eventTypes', { missing });
  assertPossible(compiled, eventTypes);

  let examined = 0;
  let matched = 0;
  let beforeId: string | null = null;
  // In pages, so that at most a page of bodies is in memory at once.
  while (examined < last) {
    const wanted = Math.min(PREVIEW_PAGE, last - examined);
    const page = await scope.events.latestOfTypes(names, wanted, beforeId);
    for (const event of page) if (compiled.matches(JSON.parse(event.body) as FilterDocument)) matched++;
    examined += page.length;
    if (page.length < wanted) break;
    beforeId = page[page.length - 1]!.id;
  }
  return { examined, matched };
}
