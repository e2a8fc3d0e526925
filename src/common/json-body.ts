import { childPath, keyProblem, textProblem } from './text-rules.js';

/** Deeper nesting than this is refused: nothing stephook accepts nests more than a few levels. */
export const MAX_JSON_DEPTH = 32;

/**
 * More keys than this in one object are refused, naming it. Free-form objects (`error_details`)
 * are read in linear time, but class-transformer de-duplicates the keys of every object it copies
 * into a DTO with an indexOf per key, so an object with 60,000 unknown fields held the event loop
 * for seconds. Agent error data rarely holds more than a few dozen keys in one object.
 */
export const MAX_KEYS_PER_OBJECT = 1000;

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
 * malformed JSON, RefusedJsonError for nesting beyond MAX_JSON_DEPTH, an object with more than
 * MAX_KEYS_PER_OBJECT keys, a forbidden key, or a string or key that `textProblem` refuses (NUL, a
 * lone surrogate), wherever it stands.
 */
export function parseJsonBody(text: string): unknown {
  const value: unknown = JSON.parse(text);
  checkShape(value);
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

/** One walk over the parsed body for every rule above; the first breach is thrown. */
function checkShape(root: unknown): void {
  const stack: Array<[unknown, number, string]> = [[root, 1, '']];
  while (stack.length > 0) {
    const [value, depth, path] = stack.pop()!;
    if (typeof value === 'string') {
      const problem = textProblem(value);
      if (problem) throw new RefusedJsonError(`${path || 'value'} ${problem}`);
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth > MAX_JSON_DEPTH) {
      throw new RefusedJsonError(`Request body nests deeper than ${MAX_JSON_DEPTH} levels`);
    }
    if (Array.isArray(value)) {
      value.forEach((item, index) => stack.push([item, depth + 1, childPath(path, index)]));
      continue;
    }
    const keys = Object.keys(value);
    if (keys.length > MAX_KEYS_PER_OBJECT) {
      const what = path || 'Request body';
      throw new RefusedJsonError(
        `${what} has ${keys.length} fields; at most ${MAX_KEYS_PER_OBJECT} are accepted in one object`,
      );
    }
    const forbidden = FORBIDDEN_KEYS.find((key) => Object.hasOwn(value, key));
    if (forbidden) {
      const where = path ? ` in ${path}` : '';
      throw new RefusedJsonError(`field name "${forbidden}"${where} is not allowed`);
    }
    for (const key of keys) {
      const problem = keyProblem(key, path);
      if (problem) throw new RefusedJsonError(problem);
      stack.push([(value as Record<string, unknown>)[key], depth + 1, childPath(path, key)]);
    }
  }
}
