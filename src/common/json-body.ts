import { childPath, nulProblem } from './nul-characters.js';

/** Deeper nesting than this is refused: nothing stephook accepts nests more than a few levels. */
export const MAX_JSON_DEPTH = 32;

/**
 * Keys that class-transformer passes over without the whitelist ever seeing them, and that invite
 * prototype pollution: no stephook body has them, so they are refused outright.
 */
const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'];

/** A number literal outside strings: JSON's own grammar for it. */
const NUMBER_TOKEN = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Well-formed JSON that stephook refuses all the same; the message names the field. */
export class RefusedJsonError extends RangeError {}

/**
 * JSON.parse, except that integers too large for a JavaScript number arrive as their exact decimal
 * text instead of being rounded (64-bit nanosecond counts must survive). Throws SyntaxError for
 * malformed JSON, RefusedJsonError for nesting beyond MAX_JSON_DEPTH, a forbidden key or NUL in any
 * string or key (SPEC §9: PostgreSQL cannot store it), wherever it stands.
 */
export function parseJsonBody(text: string): unknown {
  const value: unknown = JSON.parse(text);
  checkShape(value);
  const nul = nulProblem(value);
  if (nul) throw new RefusedJsonError(nul);
  return /\d{16}/.test(text) ? JSON.parse(quoteUnsafeIntegers(text)) : value;
}

function quoteUnsafeIntegers(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const char = text[i];
    if (char === '"') {
      const end = endOfString(text, i);
      out += text.slice(i, end);
      i = end;
    } else if (char === '-' || (char >= '0' && char <= '9')) {
      NUMBER_TOKEN.lastIndex = i;
      const token = NUMBER_TOKEN.exec(text)?.[0] ?? char;
      const unsafe = /^-?\d+$/.test(token) && !Number.isSafeInteger(Number(token));
      out += unsafe ? `"${token}"` : token;
      i += token.length;
    } else {
      out += char;
      i += 1;
    }
  }
  return out;
}

/** The index just past the closing quote of the string that opens at `start`. */
function endOfString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

function checkShape(root: unknown): void {
  const stack: Array<[unknown, number, string]> = [[root, 1, '']];
  while (stack.length > 0) {
    const [value, depth, path] = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth > MAX_JSON_DEPTH) {
      throw new RefusedJsonError(`Request body nests deeper than ${MAX_JSON_DEPTH} levels`);
    }
    const forbidden = FORBIDDEN_KEYS.find((key) => Object.hasOwn(value, key));
    if (forbidden) {
      const where = path ? ` in ${path}` : '';
      throw new RefusedJsonError(`field name "${forbidden}"${where} is not allowed`);
    }
    for (const [key, child] of Object.entries(value)) {
      stack.push([child, depth + 1, childPath(path, Array.isArray(value) ? Number(key) : key)]);
    }
  }
}
