import { Type } from 'typebox';
import type { Static } from 'typebox';
import { named } from '../../common/request-schema.js';
import { OptionalCount, OptionalObject } from './validators.js';

/** The usage fields, shared by a new step and by the success call's `usage`. */
export const USAGE_FIELDS = {
  // Typed without null as the service reads them (`?? 0`); null is accepted as left out.
  prompt_tokens: Type.Optional(OptionalCount<number>()),
  completion_tokens: Type.Optional(OptionalCount<number>()),
  total_tokens: Type.Optional(OptionalCount<number>()),
  cached_input_tokens: Type.Optional(OptionalCount()),
  cache_write_tokens: Type.Optional(OptionalCount()),
  reasoning_tokens: Type.Optional(OptionalCount()),
  prompt_tokens_details: Type.Optional(OptionalObject()),
  completion_tokens_details: Type.Optional(OptionalObject()),
};

/** Token usage of one step, as Letta reports it. */
export const UsageSchema = named(
  'UsageDto',
  Type.Object(USAGE_FIELDS, { additionalProperties: false }),
);
export type UsageDto = Static<typeof UsageSchema>;
