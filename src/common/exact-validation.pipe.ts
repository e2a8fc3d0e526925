import { ArgumentMetadata, BadRequestException, ValidationPipe } from '@nestjs/common';
import type { ValidationError } from '@nestjs/common';
import { childPath } from './text-rules.js';

/** An error body lists at most this many problems, then says how many more there were. */
export const MAX_LISTED_PROBLEMS = 10;

/**
 * Nest's ValidationPipe (class-transformer, then class-validator), holding to "what is accepted is
 * exactly what is stored": a field that class-transformer's copy lost is refused, and an error body
 * stays small however many problems the request has.
 */
export class ExactValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const result: unknown = await super.transform(value, metadata);
    // class-transformer skips a key named after an Object.prototype member (`toString`, `valueOf`,
    // `__defineGetter__`, …) in every object it copies into a class, before the whitelist could
    // see it, so `{"toString": 1}` was silently dropped. No DTO declares such a field: refuse it as
    // the whitelist refuses any unknown one. Free-form values (`@AsGiven`) are not copied.
    const lost = lostField(value, result, metadata.type === 'query' ? 'query ' : '');
    if (lost) throw new BadRequestException([`property ${lost} should not exist`]);
    return result;
  }

  protected override flattenValidationErrors(errors: ValidationError[]): string[] {
    const messages = super.flattenValidationErrors(errors);
    if (messages.length <= MAX_LISTED_PROBLEMS) return messages;
    const more = messages.length - MAX_LISTED_PROBLEMS;
    return [...messages.slice(0, MAX_LISTED_PROBLEMS), `… and ${more} more problems`];
  }
}

/** The path of the first key of `given` that `kept` (its validated copy) does not have, or null. */
function lostField(given: unknown, kept: unknown, prefix: string): string | null {
  const stack: Array<[unknown, unknown, string]> = [[given, kept, '']];
  while (stack.length > 0) {
    const [plain, copy, path] = stack.pop()!;
    // The same object was kept as given (a free-form value): nothing of it can be lost.
    if (plain === copy || !isObject(plain) || !isObject(copy)) continue;
    for (const key of Object.keys(plain)) {
      const at = Array.isArray(plain) ? childPath(path, Number(key)) : childPath(path, key);
      if (!Object.hasOwn(copy, key)) return `${prefix}${at}`;
      stack.push([
        (plain as Record<string, unknown>)[key],
        (copy as Record<string, unknown>)[key],
        at,
      ]);
    }
  }
  return null;
}

function isObject(value: unknown): value is object {
  return value !== null && typeof value === 'object' && !(value instanceof Date);
}
