/**
 * A hostile tenant for noisy-neighbour tests (test/tenancy/noisy-neighbour.test.ts and the chaos
 * scenario `noisy-neighbour`): it tries, all at once and for as long as asked, everything the API
 * lets a tenant try that costs the server — schemas near every limit and schemas past them,
 * payloads that would make a backtracking regex engine run for ever, replays until the publish
 * rate refuses them, and the costliest nested queries the cost limit admits next to ones past the
 * depth, alias, cost and list-size limits. It records what each kind of request got back.
 */

/** Sends one GraphQL operation as the hostile tenant; resolves to 'OK' or the outcome (error code, 'timeout', …). */
export type SendOperation = (query: string, variables?: Record<string, unknown>) => Promise<string>;

const PUBLISH = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }';
const CREATE_EVENT_TYPE = 'mutation($input: CreateEventTypeInput!) { createEventType(input: $input) { eventType { id } } }';
const REPLAY = 'mutation($input: ReplayEventInput!) { replayEvent(input: $input) { deliveries { id } } }';
/** Ten levels deep, the depth limit: lists inside lists, each multiplying the cost of what it selects. */
const DEEPEST_QUERY = `query Deepest($events: Int!, $inner: Int!) {
  events(first: $events) { edges { node { id payload deliveries(first: $inner) { id status event { id deliveries(first: $inner) {
    id event { id deliveries(first: $inner) { id attempts(first: $inner) { id statusCode error durationMs } } } } } } } } }
}`;
const TOO_DEEP_QUERY = '{ events { edges { node { deliveries { event { deliveries { event { deliveries { event { deliveries { id } } } } } } } } } } }';
const TOO_MANY_ALIASES = `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: tenant { id }`).join(' ')} }`;
/** Four items a nested list: the cost limit, not the page size, then bounds the `events` page. */
const INNER_LIST_SIZE = 4;

/** The event type whose schema has a catastrophic-backtracking pattern; `redosEventType` creates it. */
export const REDOS_EVENT_TYPE = 'hostile.redos';
export const REDOS_SCHEMA = { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } } };

/** A schema near every limit at once: ~22 KB, ~490 subschemas, catastrophic-backtracking patterns. */
export function nearLimitSchema(salt: number): Record<string, unknown> {
  const properties: Record<string, unknown> = { s: { type: 'string', pattern: '^(a+)+$' } };
  for (let i = 0; i < 485; i++) properties[`f${salt}_${i}`] = { type: 'string', maxLength: 1_000 + i };
  return { type: 'object', properties, patternProperties: { '^(x+x+)+y$': { type: 'string' }, '^(a|a)*$': { type: 'integer' } } };
}

/** Schemas refused at creation: by RE2, by size, by depth, by an expanding or a recursive $ref. */
export function refusedSchemas(): unknown[] {
  let deep: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < 40; i++) deep = { type: 'object', properties: { n: deep } };
  const definitions: Record<string, unknown> = { d0: { type: 'string', pattern: '^(a+)+$' } };
  for (let k = 1; k <= 30; k++) definitions[`d${k}`] = { allOf: [{ $ref: `#/definitions/d${k - 1}` }, { $ref: `#/definitions/d${k - 1}` }] };
  return [
    { type: 'object', properties: { s: { type: 'string', pattern: '^(a)\\1+$' } } },
    { type: 'string', pattern: `(?=${'a'.repeat(10)})` },
    { type: 'string', enum: Array.from({ length: 7_000 }, (_, i) => `value-${i}`) },
    deep,
    { definitions, $ref: '#/definitions/d30' },
    { definitions: { node: { type: 'object', properties: { next: { $ref: '#/definitions/node' } } } }, $ref: '#/definitions/node' },
  ];
}

/**
 * What each kind of hostile request may get back. Anything else (INTERNAL_SERVER_ERROR, a timeout,
 * a dropped connection) is a failure of isolation. QUOTA_EXCEEDED is the publish rate (each
 * publish and replay takes tokens), the event-type quota, or the tenant's schema compile budget
 * (a create, or a publish whose schema is not compiled yet); BAD_USER_INPUT on a publish to a
 * near-limit type whose creation was refused is "unknown event type".
 */
export const EXPECTED_OUTCOMES: Record<string, readonly string[]> = {
  'createEventType near the limits': ['OK', 'QUOTA_EXCEEDED'],
  'publish to a near-limit schema': ['OK', 'QUOTA_EXCEEDED', 'BAD_USER_INPUT'],
  'createEventType past a limit': ['BAD_USER_INPUT', 'QUOTA_EXCEEDED'],
  'publish matching ^(a+)+$': ['OK', 'QUOTA_EXCEEDED'],
  'publish backtracking bait': ['BAD_USER_INPUT', 'QUOTA_EXCEEDED'],
  replayEvent: ['OK', 'QUOTA_EXCEEDED'],
  'deepest query the cost limit admits': ['OK'],
  'query over the cost limit': ['BAD_USER_INPUT'],
  'query over the depth limit': ['BAD_USER_INPUT'],
  'query over the alias limit': ['BAD_USER_INPUT'],
  'nested list over its size limit': ['BAD_USER_INPUT'],
};

export class HostileTenant {
  /** What each kind of request got back, with how long it took (ms). */
  readonly calls = new Map<string, { ms: number; outcome: string }[]>();

  private constructor(
    private readonly send: SendOperation,
    private readonly eventIds: readonly string[],
    /** The largest `events(first:)` of DEEPEST_QUERY that the cost limit admits. */
    readonly admittedEvents: number,
  ) {}

  /**
   * Finds the costliest page of the deepest query the cost limit admits (each probe over it is
   * refused before any resolver runs). `eventIds`: the tenant's events, replayed in turn.
   */
  static async prepare(send: SendOperation, eventIds: readonly string[]): Promise<HostileTenant> {
    let admitted = 0;
    for (let low = 1, high = 100; low <= high; ) {
      const middle = Math.floor((low + high) / 2);
      const outcome = await send(DEEPEST_QUERY, { events: middle, inner: INNER_LIST_SIZE });
      if (outcome === 'OK') {
        admitted = middle;
        low = middle + 1;
      } else if (outcome === 'BAD_USER_INPUT') high = middle - 1;
      else throw new Error(`the cost probe events(first: ${middle}) got ${outcome}`);
    }
    if (admitted === 0) throw new Error('the cost limit admits no page of the deepest query');
    return new HostileTenant(send, eventIds, admitted);
  }

  /** Runs the attack, three requests at a time, until `stop()` says so. */
  async attack(stop: () => boolean): Promise<void> {
    const schemas = async () => {
      const refused = refusedSchemas();
      for (let round = 0; !stop(); round++) {
        const name = `hostile.big.${round}.${Date.now()}`;
        await this.record('createEventType near the limits', CREATE_EVENT_TYPE, { input: { name, schema: nearLimitSchema(round) } });
        await this.record('publish to a near-limit schema', PUBLISH, { input: { eventType: name, payload: { s: 'a'.repeat(50_000) } } });
        await this.record('createEventType past a limit', CREATE_EVENT_TYPE, { input: { name: `${name}.refused`, schema: refused[round % refused.length] } });
        await this.record('publish matching ^(a+)+$', PUBLISH, { input: { eventType: REDOS_EVENT_TYPE, payload: { s: 'a'.repeat(200_000) } } });
        await this.record('publish backtracking bait', PUBLISH, { input: { eventType: REDOS_EVENT_TYPE, payload: { s: `${'a'.repeat(200_000)}!` } } });
      }
    };
    const replays = async () => {
      for (let n = 0; !stop(); n++) await this.record('replayEvent', REPLAY, { input: { id: this.eventIds[n % this.eventIds.length] } });
    };
    const queries = async () => {
      while (!stop()) {
        await this.record('deepest query the cost limit admits', DEEPEST_QUERY, { events: this.admittedEvents, inner: INNER_LIST_SIZE });
        await this.record('query over the cost limit', DEEPEST_QUERY, { events: this.admittedEvents + 1, inner: INNER_LIST_SIZE });
        await this.record('query over the depth limit', TOO_DEEP_QUERY);
        await this.record('query over the alias limit', TOO_MANY_ALIASES);
        await this.record('nested list over its size limit', DEEPEST_QUERY, { events: 1, inner: 5_000 });
      }
    };
    await Promise.all([schemas(), replays(), queries()]);
  }

  /** Each kind of request with the distinct outcomes it got, sorted. */
  outcomes(): Record<string, string[]> {
    return Object.fromEntries([...this.calls].map(([kind, list]) => [kind, [...new Set(list.map((call) => call.outcome))].sort()]));
  }

  /** Outcomes that no kind of hostile request may get (see EXPECTED_OUTCOMES), as "kind: outcome ×count". */
  unexpected(): string[] {
    const found: string[] = [];
    for (const [kind, list] of this.calls) {
      const counts = new Map<string, number>();
      for (const call of list) if (!EXPECTED_OUTCOMES[kind]!.includes(call.outcome)) counts.set(call.outcome, (counts.get(call.outcome) ?? 0) + 1);
      for (const [outcome, count] of counts) found.push(`${kind}: ${outcome} ×${count}`);
    }
    return found;
  }

  /** Per kind: how many, their outcomes and the median time (ms), for a report. */
  summary(): Record<string, { n: number; outcomes: string[]; p50Ms: number }> {
    const outcomes = this.outcomes();
    return Object.fromEntries(
      [...this.calls].map(([kind, list]) => {
        const sorted = list.map((call) => call.ms).sort((x, y) => x - y);
        return [kind, { n: list.length, outcomes: outcomes[kind]!, p50Ms: Math.round(sorted[Math.floor((sorted.length - 1) / 2)]!) }];
      }),
    );
  }

  private async record(kind: string, query: string, variables?: Record<string, unknown>): Promise<void> {
    const started = performance.now();
    const outcome = await this.send(query, variables);
    const list = this.calls.get(kind) ?? [];
    list.push({ ms: performance.now() - started, outcome });
    this.calls.set(kind, list);
  }
}
