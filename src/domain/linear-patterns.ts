import type { CodeOptions } from 'ajv';
import { RE2JS } from 're2js';
import { BadUserInputError } from '../errors.js';

/** What ajv calls to turn a `pattern` or `patternProperties` key into something with `test`. */
export type RegExpEngine = NonNullable<CodeOptions['regExp']>;

const RE2_HINT = 'patterns run on RE2 in linear time, which has no backreferences or lookaround';

/**
 * JavaScript writes a code point as `\uXXXX` (two of them for a surrogate pair) or `\u{X…}`; RE2
 * as `\x{X…}`. Everything else in a pattern either means the same in RE2 or is refused by it.
 */
export function re2Syntax(pattern: string): string {
  let result = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char !== '\\') {
      result += char;
      continue;
    }
    const next = pattern[i + 1] ?? '';
    if (next === 'u') {
      const braced = /^\{([0-9a-fA-F]{1,6})\}/.exec(pattern.slice(i + 2, i + 10));
      if (braced) {
        result += `\\x{${braced[1]}}`;
        i += 1 + braced[0].length;
        continue;
      }
      if (/^[0-9a-fA-F]{4}$/.test(pattern.slice(i + 2, i + 6))) {
        let codePoint = Number.parseInt(pattern.slice(i + 2, i + 6), 16);
        let length = 6;
        const low = /^\\u([dD][c-fC-F][0-9a-fA-F]{2})$/.exec(pattern.slice(i + 6, i + 12));
        if (codePoint >= 0xd800 && codePoint <= 0xdbff && low) {
          codePoint = 0x10000 + ((codePoint - 0xd800) << 10) + (Number.parseInt(low[1]!, 16) - 0xdc00);
          length = 12;
        }
        result += `\\x{${codePoint.toString(16)}}`;
        i += length - 1;
        continue;
      }
    }
    result += char + next;
    i++;
  }
  return result;
}

export interface PatternLimits {
  /** Characters in one pattern. */
  length: number;
  /** Characters in all the distinct patterns of one schema: RE2's compile time follows them. */
  characters: number;
}

/**
 * The patterns of one schema, compiled once each by RE2 (time linear in the input) and handed to
 * ajv through `code.regExp`. Refuses, with BAD_USER_INPUT, what RE2 cannot run and what is over
 * the limits.
 */
export class LinearPatterns {
  private readonly compiled = new Map<string, RE2JS>();
  private characters = 0;

  constructor(private readonly limits: PatternLimits) {}

  /** Compiles `source` (found at `where`, a JSON pointer into the schema) or refuses it. */
  compile(source: string, where?: string): RE2JS {
    const known = this.compiled.get(source);
    if (known) return known;
    const at = where === undefined ? `pattern ${JSON.stringify(source)}` : `schema at ${where || '/'}`;
    if (source.length > this.limits.length) {
      throw new BadUserInputError(`${at}: a pattern may be at most ${this.limits.length} characters`, 'schema');
    }
    this.characters += source.length;
    if (this.characters > this.limits.characters) {
      throw new BadUserInputError(`${at}: the distinct patterns of a schema may hold at most ${this.limits.characters} characters in all`, 'schema');
    }
    let pattern: RE2JS;
    try {
      pattern = RE2JS.compile(re2Syntax(source));
    } catch (error) {
      throw new BadUserInputError(`${at}: pattern ${JSON.stringify(source)} cannot be used (${RE2_HINT}): ${(error as Error).message}`, 'schema');
    }
    this.compiled.set(source, pattern);
    return pattern;
  }

  /** RE2's measure of the work a pattern does for each character it reads. */
  instructions(source: string, where?: string): number {
    return this.compile(source, where).programSize();
  }

  /** The engine for ajv's `code.regExp`; flags are ignored since RE2 always reads code points. */
  readonly engine: RegExpEngine = Object.assign(
    (source: string) => {
      const pattern = this.compile(source);
      // ajv keeps one compiled pattern per distinct `toString()`.
      return { test: (input: string) => pattern.test(input), toString: () => `re2:${JSON.stringify(source)}` };
    },
    { code: 'hooklane.re2' },
  );
}

/** An engine for server-defined patterns (the meta-schemas'), with no per-schema limits. */
export function linearEngine(): RegExpEngine {
  return new LinearPatterns({ length: Number.POSITIVE_INFINITY, characters: Number.POSITIVE_INFINITY }).engine;
}
