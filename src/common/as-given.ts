import { applyDecorators } from '@nestjs/common';
import { Exclude, Transform, Type } from 'class-transformer';

/** Nothing of it is read: class-transformer builds an empty one without looking at a key. */
@Exclude()
export class NotRead {}

/**
 * A free-form value (`error_details`, `headers`) kept exactly as the body parser gave it.
 * class-transformer would otherwise copy it key by key, and in doing so drop every key named after
 * an Object.prototype member (`toString`, `valueOf`, … are functions on the copy), at any depth,
 * and de-duplicate the keys with an indexOf per key (quadratic: 60,000 keys took 3 s). `NotRead`
 * makes the copy empty and cheap; the original then takes its place. Validate it on its own terms.
 */
export const AsGiven = () =>
  applyDecorators(
    Type(() => NotRead),
    Transform(({ obj, key }: { obj: Record<string, unknown>; key: string }) => obj[key], {
      toClassOnly: true,
    }),
  );
