import { BadRequestException, Injectable, PipeTransform } from '@nestjs/common';
import type { ArgumentMetadata } from '@nestjs/common';

/**
 * Strings stephook stores must come back as they were sent, on every database. So any string or key,
 * in a body, query or path, is a 400 naming the field when it holds:
 * - NUL (U+0000), SPEC §9: PostgreSQL's text cannot store it and answered 500;
 * - a lone surrogate (`"\ud800"` in JSON): not Unicode, so PostgreSQL stored "�" and SQLite "���",
 *   and a filter holding one could never match.
 * Checked generically, in one walk: bodies by the JSON parser, query strings by JsonBodyMiddleware,
 * path parameters by CheckedPathPipe.
 */
const NUL = '\u0000';
/** In a `u` pattern a surrogate pair is one code point, so this finds only lone ones (!isWellFormed). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** What is wrong with one string or key, said after its name, or null. */
export function textProblem(text: string): string | null {
  if (text.includes(NUL)) return 'must not contain NUL characters';
  if (LONE_SURROGATE.test(text)) return 'must be well-formed Unicode (it holds a lone surrogate)';
  return null;
}

/** `name` as a message shows it: plain when it reads plainly, else JSON-quoted (NUL as `\u0000`). */
export function shown(name: string): string {
  return /^[A-Za-z_][\w-]*$/.test(name) ? name : JSON.stringify(name);
}

/** `parent.name`, `parent[0]`, or `name` at the top. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent ? `${parent}.${shown(key)}` : shown(key);
}

/** The message for a key that `textProblem` refuses: `field name "a\u0000" in usage must …`. */
export function keyProblem(key: string, path: string): string | null {
  const problem = textProblem(key);
  if (!problem) return null;
  return `field name ${JSON.stringify(key)}${path ? ` in ${path}` : ''} ${problem}`;
}

/**
 * What is wrong with `root`, or null: the first string or object key that `textProblem` refuses,
 * named by its path from `prefix` (`query tags[1] must not contain NUL characters`).
 */
export function stringProblem(root: unknown, prefix = ''): string | null {
  const stack: Array<[unknown, string]> = [[root, prefix]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      const problem = textProblem(value);
      if (problem) return `${path || 'value'} ${problem}`;
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (Array.isArray(value)) {
      value.forEach((item, index) => stack.push([item, childPath(path, index)]));
      continue;
    }
    for (const [key, child] of Object.entries(value)) {
      const problem = keyProblem(key, path);
      if (problem) return problem;
      stack.push([child, childPath(path, key)]);
    }
  }
  return null;
}

/**
 * Throws a 400 naming the query parameter that `textProblem` refuses (`query step_id must not …`),
 * or that the query parser drops without a word: it ignores `__proto__`, `constructor` and every
 * other Object.prototype name, so `?constructor=x` passed where `?x=1` is a 400.
 */
export function refuseBadQuery(query: unknown, url: string): void {
  const search = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  for (const part of search.split('&')) {
    // The query parser keeps `%ED%A0%80` (not UTF-8) as that literal text; name it instead.
    if (!decodesAsUtf8(part)) {
      const name = part.split('=')[0];
      throw new BadRequestException(
        `query ${JSON.stringify(name.slice(0, 64))} is not valid UTF-8 once percent-decoded`,
      );
    }
  }
  for (const name of new URLSearchParams(search).keys()) {
    const base = name.replace(/\[.*$/s, '');
    if (base === '__proto__' || Object.hasOwn(Object.prototype, base)) {
      throw new BadRequestException(`query parameter ${shown(base)} is not allowed`);
    }
  }
  if (query === null || typeof query !== 'object') return;
  for (const [name, value] of Object.entries(query)) {
    const problem = textProblem(name);
    if (problem) {
      throw new BadRequestException(`query parameter name ${JSON.stringify(name)} ${problem}`);
    }
    const valueProblem = stringProblem(value, `query ${shown(name)}`);
    if (valueProblem) throw new BadRequestException(valueProblem);
  }
}

/** Whether `%XX` escapes in `part` spell UTF-8 (a `%` not followed by two hex digits is literal). */
function decodesAsUtf8(part: string): boolean {
  try {
    decodeURIComponent(part.replace(/%(?![0-9a-fA-F]{2})/g, '%25'));
    return true;
  } catch {
    return false;
  }
}

/**
 * A global pipe for path parameters (`path run_id must not contain NUL characters`): a middleware
 * runs before routing and cannot name them. Bodies and queries are checked before it.
 */
@Injectable()
export class CheckedPathPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'param') return value;
    const problem = stringProblem(value, `path ${metadata.data ?? 'parameter'}`);
    if (problem) throw new BadRequestException(problem);
    return value;
  }
}
