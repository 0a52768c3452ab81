import { GraphQLScalarType, type ValueNode } from 'graphql';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';

/** Deeper JSON than this is refused as input: it is never a reasonable webhook payload. */
export const MAX_JSON_DEPTH = 64;

/** Measures nesting without recursion, so a hostile 100,000-level document cannot overflow the stack. */
function assertJsonDepth(value: unknown): void {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 1 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > MAX_JSON_DEPTH) throw new TypeError(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    const children = Array.isArray(current) ? current : Object.values(current);
    for (const child of children) stack.push({ value: child, depth: depth + 1 });
  }
}

/** graphql-scalars' JSON, with a nesting limit checked before anything walks the value recursively. */
export const JSONScalar = new GraphQLScalarType({
  ...JSONResolver.toConfig(),
  parseValue(value: unknown) {
    assertJsonDepth(value);
    return JSONResolver.parseValue(value);
  },
  parseLiteral(ast: ValueNode, variables?: Record<string, unknown> | null) {
    const value: unknown = JSONResolver.parseLiteral(ast, variables);
    assertJsonDepth(value);
    return value;
  },
});

export const DateTimeScalar = DateTimeResolver;
