import { BadRequestException, Injectable, PipeTransform } from '@nestjs/common';
import type { ArgumentMetadata } from '@nestjs/common';

/**
 * SPEC §9: any string holding NUL (U+0000), in a body, query or path, is a 400 naming the field, on
 * every database (PostgreSQL's text cannot store it and answered 500). Checked once, generically:
 * bodies by the JSON parser, query strings by JsonBodyMiddleware, path parameters by NoNulPathPipe.
 */
const NUL = '\u0000';

/** `name` as a message shows it: plain when it reads plainly, else JSON-quoted (NUL as `\u0000`). */
function shown(name: string): string {
  return /^[A-Za-z_][\w-]*$/.test(name) ? name : JSON.stringify(name);
}

/** `parent.name`, `parent[0]`, or `name` at the top. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent ? `${parent}.${shown(key)}` : shown(key);
}

/**
 * What is wrong with `root`, or null: the first string or object key holding NUL, named by its path
 * from `prefix` (`usage.prompt_tokens_details.x must not contain NUL characters`).
 */
export function nulProblem(root: unknown, prefix = ''): string | null {
  const stack: Array<[unknown, string]> = [[root, prefix]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes(NUL)) return `${path || 'value'} must not contain NUL characters`;
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (Array.isArray(value)) {
      value.forEach((item, index) => stack.push([item, childPath(path, index)]));
      continue;
    }
    for (const [key, child] of Object.entries(value)) {
      if (key.includes(NUL)) {
        const where = path ? ` in ${path}` : '';
        return `field name ${JSON.stringify(key)}${where} must not contain NUL characters`;
      }
      stack.push([child, childPath(path, key)]);
    }
  }
  return null;
}

/** Throws a 400 naming the query parameter that holds NUL (`query step_id must not …`). */
export function refuseNulInQuery(query: unknown): void {
  if (query === null || typeof query !== 'object') return;
  for (const [name, value] of Object.entries(query)) {
    if (name.includes(NUL)) {
      throw new BadRequestException(
        `query parameter name ${JSON.stringify(name)} must not contain NUL characters`,
      );
    }
    const problem = nulProblem(value, `query ${shown(name)}`);
    if (problem) throw new BadRequestException(problem);
  }
}

/**
 * A global pipe for path parameters (`path run_id must not contain NUL characters`): a middleware
 * runs before routing and cannot name them. Bodies and queries are checked before it.
 */
@Injectable()
export class NoNulPathPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'param') return value;
    const problem = nulProblem(value, `path ${metadata.data ?? 'parameter'}`);
    if (problem) throw new BadRequestException(problem);
    return value;
  }
}
