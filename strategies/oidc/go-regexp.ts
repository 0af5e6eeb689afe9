/**
 * Dex compiles `claimModifications.filterGroupClaims.groupsFilter` with Go's `regexp` (RE2
 * syntax). `goRegExp` reads that syntax into a JavaScript `RegExp` with the same meaning: flags
 * at the start (`(?i)`, `(?s)`, `(?m)`), `(?P<name>`, `\A`, `\z`, `\Q...\E`, `\x{41}` and ASCII
 * classes such as `[[:alpha:]]`. What it cannot carry over (flags later in the expression,
 * Unicode classes `\pL`, negated ASCII classes) is refused with the reason, never read with
 * another meaning: JavaScript would take `[[:alpha:]]` for a set of punctuation and letters and
 * `\pL` for the text "pL". Constructs Go refuses (lookaround) are refused too, as Go would.
 */

export class GoRegExpError extends Error {}

/** Go's ASCII character classes (`[[:alpha:]]`), as ranges inside a JavaScript class. */
const ASCII_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

const LEADING_FLAGS = /^\(\?([a-zA-Z]+)\)/;

function escapeLiteral(text: string): string {
  return text.replace(/[^A-Za-z0-9_\s]/g, (c) => `\\${c}`);
}

/** The JavaScript equivalent of a Go regular expression; throws `GoRegExpError` saying why not. */
export function goRegExp(source: string): RegExp {
  let flags = '';
  let rest = source;
  for (let m = LEADING_FLAGS.exec(rest); m; m = LEADING_FLAGS.exec(rest)) {
    for (const f of m[1]!) {
      if (f !== 'i' && f !== 'm' && f !== 's') throw new GoRegExpError(`the flag ${f} is not supported (only i, m and s)`);
      if (!flags.includes(f)) flags += f;
    }
    rest = rest.slice(m[0].length);
  }

  let out = '';
  let inClass = false;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i]!;
    const next = rest[i + 1];
    if (c === '\\') {
      if (next === 'Q') {
        const end = rest.indexOf('\\E', i + 2);
        out += escapeLiteral(end < 0 ? rest.slice(i + 2) : rest.slice(i + 2, end));
        i = end < 0 ? rest.length : end + 1;
      } else if (next === 'A' && !inClass) {
        out += '(?<![\\s\\S])';
        i++;
      } else if (next === 'z' && !inClass) {
        out += '(?![\\s\\S])';
        i++;
      } else if (next === 'p' || next === 'P' || next === 'C') {
        throw new GoRegExpError(`\\${next} is not supported`);
      } else if (next === 'x' && rest[i + 2] === '{') {
        const end = rest.indexOf('}', i + 3);
        const hex = end < 0 ? '' : rest.slice(i + 3, end);
        if (!/^[0-9A-Fa-f]{1,4}$/.test(hex)) throw new GoRegExpError(`\\x{${hex}} is not supported (at most \\x{FFFF})`);
        out += `\\u${hex.padStart(4, '0')}`;
        i = end;
      } else {
        out += c + (next ?? '');
        i++;
      }
      continue;
    }
    if (inClass) {
      if (c === '[' && next === ':') {
        const end = rest.indexOf(':]', i + 2);
        const name = end < 0 ? undefined : rest.slice(i + 2, end);
        if (name !== undefined && /^\^?[a-z]+$/.test(name)) {
          const ranges = ASCII_CLASSES[name];
          if (ranges === undefined) throw new GoRegExpError(`[:${name}:] is not supported (negated or unknown ASCII class)`);
          out += ranges;
          i = end + 1;
          continue;
        }
        out += '\\[';
        continue;
      }
      if (c === '[') out += '\\[';
      else out += c;
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (rest[i + 1] === '^') out += rest[++i];
      // A `]` first in a class is a literal in Go; JavaScript would read `[]` as an empty class.
      if (rest[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (c === '(' && next === '?') {
      const kind = rest[i + 2];
      if (kind === 'P' && rest[i + 3] === '<') {
        out += '(?<';
        i += 3;
        continue;
      }
      if (kind !== ':') throw new GoRegExpError(kind === '=' || kind === '!' || kind === '<' ? 'lookaround is not valid in Go' : 'flags are supported only at the start');
    }
    out += c;
  }
  try {
    return new RegExp(out, flags);
  } catch (err) {
    throw new GoRegExpError((err as Error).message);
  }
}
