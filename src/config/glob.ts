// Interface-name glob matching (fnmatch(3) without flags).
//
// Supported syntax: `*` (any run, possibly empty), `?` (any one character),
// `[abc]`, `[a-z]`, `[!x]` (bracket expressions; `!` right after `[` negates,
// a `]` right after `[` or `[!` is literal, `-` first or last is literal).
// An unterminated `[` is matched literally, as fnmatch(3) does. No regular
// expressions are built, so arbitrary patterns are safe to match.

import type { Config } from "./schema.js";

type Token =
  | { readonly t: "star" }
  | { readonly t: "any" }
  | { readonly t: "lit"; readonly c: string }
  | { readonly t: "class"; readonly neg: boolean; readonly singles: string; readonly ranges: ReadonlyArray<readonly [string, string]> };

const STAR: Token = { t: "star" };
const ANY: Token = { t: "any" };

/** Parse a bracket expression starting at `pattern[start] === "["`. Returns null when unterminated. */
function parseClass(pattern: string, start: number): { token: Token; end: number } | null {
  let i = start + 1;
  let neg = false;
  if (pattern[i] === "!") {
    neg = true;
    i++;
  }
  let singles = "";
  const ranges: Array<readonly [string, string]> = [];
  let first = true;
  while (i < pattern.length) {
    const c = pattern[i] as string;
    if (c === "]" && !first) {
      return { token: { t: "class", neg, singles, ranges }, end: i + 1 };
    }
    first = false;
    const next = pattern[i + 1];
    const hi = pattern[i + 2];
    if (next === "-" && hi !== undefined && hi !== "]") {
      ranges.push([c, hi]);
      i += 3;
    } else {
      singles += c;
      i++;
    }
  }
  return null;
}

function tokenize(pattern: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i] as string;
    if (c === "*") {
      // Collapse runs of stars: same meaning, less backtracking.
      if (out[out.length - 1] !== STAR) out.push(STAR);
      i++;
    } else if (c === "?") {
      out.push(ANY);
      i++;
    } else if (c === "[") {
      const cls = parseClass(pattern, i);
      if (cls) {
        out.push(cls.token);
        i = cls.end;
      } else {
        out.push({ t: "lit", c });
        i++;
      }
    } else {
      out.push({ t: "lit", c });
      i++;
    }
  }
  return out;
}

function matchOne(tok: Token, ch: string): boolean {
  switch (tok.t) {
    case "any":
      return true;
    case "lit":
      return tok.c === ch;
    case "class": {
      let hit = tok.singles.includes(ch);
      if (!hit) {
        for (const [lo, hi] of tok.ranges) {
          if (ch >= lo && ch <= hi) {
            hit = true;
            break;
          }
        }
      }
      return hit !== tok.neg;
    }
    case "star":
      return false;
  }
}

function matchTokens(toks: readonly Token[], name: string): boolean {
  let p = 0;
  let s = 0;
  let starP = -1;
  let starS = 0;
  while (s < name.length) {
    const tok = toks[p];
    if (tok !== undefined && tok.t === "star") {
      starP = p++;
      starS = s;
    } else if (tok !== undefined && matchOne(tok, name[s] as string)) {
      p++;
      s++;
    } else if (starP >= 0) {
      p = starP + 1;
      s = ++starS;
    } else {
      return false;
    }
  }
  while (p < toks.length && toks[p]?.t === "star") p++;
  return p === toks.length;
}

/** A compiled pattern, for callers matching the same pattern many times. */
export type GlobMatcher = (name: string) => boolean;

export function compileGlob(pattern: string): GlobMatcher {
  const toks = tokenize(pattern);
  return (name: string) => matchTokens(toks, name);
}

/** fnmatch(3)-style match of `name` against `pattern` (no flags: `/` and leading `.` are ordinary). */
export function globMatch(pattern: string, name: string): boolean {
  return matchTokens(tokenize(pattern), name);
}

/** True when the string contains any glob metacharacter (`*`, `?`, `[`). */
export function hasGlobChars(s: string): boolean {
  return /[*?[]/.test(s);
}

/**
 * Smallest name length the pattern can match (each non-`*` token eats exactly
 * one character). Used to reject interface patterns that can never match.
 */
export function globMinLength(pattern: string): number {
  return tokenize(pattern).filter((t) => t.t !== "star").length;
}

/**
 * Strict syntax check for interface-name patterns (`monitoring.interfaces`).
 * `nameChars` is the set of characters allowed in a literal position.
 * Returns an error message, or null when the pattern is well-formed.
 */
export function checkGlobSyntax(pattern: string, nameChars: RegExp): string | null {
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i] as string;
    if (c === "*" || c === "?") {
      i++;
      continue;
    }
    if (c === "]") return `unmatched "]" at position ${i + 1}`;
    if (c === "!") return `"!" is only allowed right after "[" (position ${i + 1})`;
    if (c === "[") {
      const open = i;
      i++;
      if (pattern[i] === "!") i++;
      let members = 0;
      while (i < pattern.length && pattern[i] !== "]") {
        const lo = pattern[i] as string;
        if (!nameChars.test(lo)) return `invalid character ${JSON.stringify(lo)} inside "[...]" at position ${i + 1}`;
        if (pattern[i + 1] === "-" && pattern[i + 2] !== undefined && pattern[i + 2] !== "]") {
          const hi = pattern[i + 2] as string;
          if (!nameChars.test(hi)) return `invalid character ${JSON.stringify(hi)} inside "[...]" at position ${i + 3}`;
          if (hi < lo) return `invalid range "${lo}-${hi}" at position ${i + 1}`;
          i += 3;
        } else {
          i++;
        }
        members++;
      }
      if (i >= pattern.length) return `unterminated "[" at position ${open + 1}`;
      if (members === 0) return `empty "[]" at position ${open + 1}`;
      i++; // skip "]"
      continue;
    }
    if (!nameChars.test(c)) return `invalid character ${JSON.stringify(c)} at position ${i + 1}`;
    i++;
  }
  return null;
}

const compiledCache = new WeakMap<readonly string[], GlobMatcher[]>();

function matchesAny(list: readonly string[], name: string): boolean {
  // Only frozen lists are cached: a mutable one could change under the cache.
  if (!Object.isFrozen(list)) return list.some((p) => globMatch(p, name));
  let matchers = compiledCache.get(list);
  if (!matchers) {
    matchers = list.map(compileGlob);
    compiledCache.set(list, matchers);
  }
  return matchers.some((m) => m(name));
}

/**
 * Whether interface `name` is watched: selected by `monitoring.interfaces` (an empty list selects
 * everything, otherwise any entry, name or glob, must match) and not matched by `monitoring.exclude`.
 * Compiled patterns are cached per frozen list, so calling this per event is cheap.
 */
export function interfaceSelected(cfg: Config, name: string): boolean {
  const { interfaces, exclude } = cfg.monitoring;
  if (exclude.length > 0 && matchesAny(exclude, name)) return false;
  return interfaces.length === 0 || matchesAny(interfaces, name);
}
