import { ArgumentMetadata, BadRequestException, ValidationPipe } from '@nestjs/common';
import type { Type, ValidationError } from '@nestjs/common';
import { getMetadataStorage, ValidationTypes } from 'class-validator';
import { NotRead } from './as-given.js';
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
    const hidden = metadata.type === 'body' ? hideFromTransformer(value, metadata.metatype) : [];
    let result: unknown;
    try {
      result = await super.transform(value, metadata);
    } finally {
      for (const object of hidden) Object.setPrototypeOf(object, Object.prototype);
    }
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

/**
 * class-transformer copies every object of a body key by key, at some microseconds a key plus an
 * indexOf per key (70 objects of 1000 keys under an unknown field took 0.9 s), though only the
 * objects of a DTO's typed fields (`usage`, `filter`, …) need copying: unknown fields are refused
 * and free-form ones are kept as given. An object whose constructor is not Object is copied as an
 * instance of that constructor, so every object below the body's own gets NotRead's prototype, of
 * which a copy reads no key, until the pipe is done. A typed field takes its class from the DTO,
 * not from its value; given an array it would copy each item, so an array there is refused first.
 * Returns the objects to give their prototype back.
 */
function hideFromTransformer(body: unknown, metatype: Type | undefined): object[] {
  if (!isObject(body) || Array.isArray(body) || !metatype) return [];
  for (const rule of getMetadataStorage().getTargetValidationMetadatas(metatype, '', true, false)) {
    const field = (body as Record<string, unknown>)[rule.propertyName];
    if (rule.type === ValidationTypes.NESTED_VALIDATION && Array.isArray(field)) {
      throw new BadRequestException([`${rule.propertyName} must be an object, not an array`]);
    }
  }
  const hidden: object[] = [];
  const stack: unknown[] = Object.values(body);
  while (stack.length > 0) {
    const value = stack.pop();
    if (!isObject(value)) continue;
    if (!Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype) {
      Object.setPrototypeOf(value, NotRead.prototype);
      hidden.push(value);
    }
    for (const child of Object.values(value)) stack.push(child);
  }
  return hidden;
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
