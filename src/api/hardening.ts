import { createRequire } from 'node:module';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { GraphQLError, Kind, visit, type DocumentNode, type GraphQLOutputType, type SelectionSetNode, type ValidationRule } from 'graphql';
import type * as QueryComplexity from 'graphql-query-complexity';
import { DEFAULT_PAGE_SIZE, NESTED_LIST_DEFAULT_SIZE, NESTED_LIST_MAX_SIZE } from './connection.js';
import { BoundedMap } from '../bounded-map.js';

// The cost check works on Apollo's schema object, so graphql-query-complexity and the errors it
// raises must use the same copy of `graphql` as Apollo. Loading both through Node's own resolution
// guarantees that, also where source files are bundled with graphql's ESM build (vitest), which
// would otherwise fail with "Cannot use GraphQLNonNull from another module or realm".
const nodeRequire = createRequire(import.meta.url);
const { getComplexity, simpleEstimator } = nodeRequire('graphql-query-complexity') as typeof QueryComplexity;
const { GraphQLError: ApolloGraphQLError } = nodeRequire('graphql') as typeof import('graphql');

/**
 * Limits on what one GraphQL document may ask for, checked before any resolver runs. Depth and
 * aliases are validation rules (Apollo reports them as GRAPHQL_VALIDATION_FAILED, which
 * `formatErrorFor` maps onto BAD_USER_INPUT). Cost depends on variables (`first: $n`), which Apollo's
 * validation does not see, so it is checked by `costLimitPlugin` once the operation is resolved.
 */
export interface GraphQLLimits {
  maxDepth: number;
  maxCost: number;
  maxAliases: number;
  maxPageSize: number;
}

/** Lists without a `first` argument (`PublishEventsPayload.events`, `ReplayEventPayload.deliveries`) count as this many items. */
export const UNPAGINATED_LIST_SIZE = 10;

// Introspection trees are bounded by the schema, not by the data: no depth limit, no cost.
const INTROSPECTION_ROOTS = new Set(['__schema', '__type']);

function operationLabel(name: string | undefined): string {
  return name ? `Operation "${name}"` : 'The operation';
}

/** Nesting of fields, through inline fragments and fragment spreads; `{ tenant { id } }` is 2 deep. */
function depthLimitRule(maxDepth: number): ValidationRule {
  return (context) => {
    const fragmentDepths = new Map<string, number>();

    const fragmentDepth = (name: string, visiting: Set<string>): number => {
      const known = fragmentDepths.get(name);
      if (known !== undefined) return known;
      const fragment = context.getFragment(name);
      // Unknown fragments and cycles are reported by graphql-js's own rules.
      if (!fragment || visiting.has(name)) return 0;
      visiting.add(name);
      const depth = selectionDepth(fragment.selectionSet, visiting);
      visiting.delete(name);
      fragmentDepths.set(name, depth);
      return depth;
    };

    const selectionDepth = (selectionSet: SelectionSetNode, visiting: Set<string>): number => {
      let deepest = 0;
      for (const selection of selectionSet.selections) {
        let depth: number;
        if (selection.kind === Kind.FIELD) {
          if (INTROSPECTION_ROOTS.has(selection.name.value)) continue;
          depth = 1 + (selection.selectionSet ? selectionDepth(selection.selectionSet, visiting) : 0);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          depth = selectionDepth(selection.selectionSet, visiting);
        } else {
          depth = fragmentDepth(selection.name.value, visiting);
        }
        if (depth > deepest) deepest = depth;
      }
      return deepest;
    };

    return {
      OperationDefinition(node) {
        const depth = selectionDepth(node.selectionSet, new Set());
        if (depth > maxDepth) {
          context.reportError(
            new GraphQLError(
              `${operationLabel(node.name?.value)} is ${depth} levels deep, ${depth - maxDepth} over the depth limit of ${maxDepth}`,
              { nodes: [node] },
            ),
          );
        }
        return false;
      },
    };
  };
}

/** Aliased fields anywhere in the document, introspection included. */
function aliasLimitRule(maxAliases: number): ValidationRule {
  return (context) => {
    let aliases = 0;
    return {
      Field(node) {
        if (node.alias) aliases += 1;
      },
      Document: {
        leave(node) {
          if (aliases > maxAliases) {
            context.reportError(
              new GraphQLError(`The document uses ${aliases} aliases, ${aliases - maxAliases} over the alias limit of ${maxAliases}`, {
                nodes: [node],
              }),
            );
          }
        },
      },
    };
  };
}

/** Validation rules for depth and aliases (cost needs variables: see `costLimitPlugin`). */
export function hardeningRules(limits: GraphQLLimits): ValidationRule[] {
  return [depthLimitRule(limits.maxDepth), aliasLimitRule(limits.maxAliases)];
}

/**
 * Cost is roughly the number of objects a query can make the server load: each object-typed field
 * costs 1 plus what it selects; scalar and enum fields are free (they come with their object); a
 * connection multiplies what it selects by its `first` (20 when omitted, at most `maxPageSize`); a
 * list inside an object (`Event.deliveries(first)`, `Delivery.attempts(first)`) by its `first` (100
 * when omitted, at most 1,000); any other list of objects by UNPAGINATED_LIST_SIZE. A connection's
 * `edges` list is already counted by the `first` of the field that returned the connection.
 */
export function costEstimator(maxPageSize: number): QueryComplexity.ComplexityEstimator {
  return ({ type, field, args, childComplexity }) => {
    if (INTROSPECTION_ROOTS.has(field.name)) return 0;
    if (isLeaf(field.type)) return 0;
    if (field.args.some((argument) => argument.name === 'first')) {
      // Out-of-range values are the resolver's to refuse, with a message about `first` rather than cost.
      const [fallback, max] = isList(field.type)
        ? [NESTED_LIST_DEFAULT_SIZE, NESTED_LIST_MAX_SIZE]
        : [Math.min(DEFAULT_PAGE_SIZE, maxPageSize), maxPageSize];
      const requested = typeof args.first === 'number' ? args.first : fallback;
      const first = Math.min(Math.max(Math.trunc(requested), 1), max);
      return 1 + first * childComplexity;
    }
    if (isList(field.type) && !type.name.endsWith('Connection')) {
      return 1 + UNPAGINATED_LIST_SIZE * childComplexity;
    }
    return undefined;
  };
}

// Realm-independent type tests (no instanceof: see the note on nodeRequire).
function isList(type: GraphQLOutputType): boolean {
  return String(type).replace(/!$/, '').startsWith('[');
}

function isLeaf(type: GraphQLOutputType): boolean {
  let named: unknown = type;
  while (typeof named === 'object' && named !== null && 'ofType' in named) named = named.ofType;
  return typeof (named as { serialize?: unknown }).serialize === 'function'; // scalars and enums
}

function refused(message: string): GraphQLError {
  return new ApolloGraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
}

/**
 * Refuses an operation whose cost (see `costEstimator`) is over `maxCost`, after Apollo has parsed,
 * validated and picked the operation and before any resolver runs. Variables count: `first: $n`
 * costs what `$n` says. Bad variables are left for execution to report as usual.
 */
export function costLimitPlugin<TContext extends BaseContext>(
  limits: Pick<GraphQLLimits, 'maxCost' | 'maxPageSize'>,
): ApolloServerPlugin<TContext> {
  const estimators = [costEstimator(limits.maxPageSize), simpleEstimator({ defaultComplexity: 1 })];
  const costs = new CostCache();
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, schema, request, operationName }) {
          const variables = request.variables ?? {};
          const key = costs.key(document, operationName ?? undefined, variables);
          let cost = costs.get(document, key);
          if (cost === undefined) {
            try {
              cost = getComplexity({ estimators, schema, query: document, variables, ...(operationName ? { operationName } : {}) });
            } catch (error) {
              if (error instanceof ApolloGraphQLError && /maximum allowed number of nodes/.test(error.message)) cost = TOO_MANY_NODES;
              // Variables or arguments that do not coerce: execution reports them with BAD_USER_INPUT.
              else if (error instanceof ApolloGraphQLError) return;
              else throw error;
            }
            costs.set(document, key, cost);
          }
          if (cost === TOO_MANY_NODES) throw refused('The operation has too many fields to estimate its cost');
          if (cost > limits.maxCost) {
            throw refused(
              `${operationLabel(operationName ?? undefined)} costs ${cost}, ${cost - limits.maxCost} over the cost limit of ` +
                `${limits.maxCost} (a list multiplies the cost of what it selects by its \`first\`, which is ` +
                `${NESTED_LIST_DEFAULT_SIZE} when omitted on a nested list such as \`deliveries\`, or by ${UNPAGINATED_LIST_SIZE} when it has none: ` +
                `ask for fewer items, pass a smaller \`first\` to nested lists, or nest fewer lists)`,
            );
          }
        },
      };
    },
  };
}

const TOO_MANY_NODES = Number.POSITIVE_INFINITY;
const MAX_COSTS_PER_DOCUMENT = 64;

/**
 * The cost of an operation depends on its document and on the variables its `first` arguments
 * read, nothing else: a client that sends the same operation again (publishEvent with a new
 * payload) is not estimated again. Keyed by Apollo's parsed document, which Apollo itself caches
 * per query text, so entries go when Apollo forgets the document.
 */
class CostCache {
  private readonly byDocument = new WeakMap<DocumentNode, { pageVariables: string[]; costs: BoundedMap<string, number> }>();

  key(document: DocumentNode, operationName: string | undefined, variables: Record<string, unknown>): string {
    const { pageVariables } = this.entry(document);
    const pages = pageVariables.map((name) => JSON.stringify(variables[name] ?? null)).join(',');
    return `${operationName ?? ''}\u0000${pages}`;
  }

  get(document: DocumentNode, key: string): number | undefined {
    return this.entry(document).costs.get(key);
  }

  set(document: DocumentNode, key: string, cost: number): void {
    const { costs } = this.entry(document);
    costs.set(key, cost);
  }

  private entry(document: DocumentNode) {
    let entry = this.byDocument.get(document);
    if (!entry) {
      entry = { pageVariables: variablesReadByFirst(document), costs: new BoundedMap<string, number>(MAX_COSTS_PER_DOCUMENT) };
      this.byDocument.set(document, entry);
    }
    return entry;
  }
}

/** The names of the variables that a `first` argument reads, anywhere in the document. */
function variablesReadByFirst(document: DocumentNode): string[] {
  const names = new Set<string>();
  visit(document, {
    Argument(node) {
      if (node.name.value === 'first' && node.value.kind === Kind.VARIABLE) names.add(node.value.name.value);
    },
  });
  return [...names].sort();
}
