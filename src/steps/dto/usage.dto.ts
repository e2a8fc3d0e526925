import { OptionalCount, OptionalObject } from './validators.js';

/** Token usage of one step, as Letta reports it. */
export class UsageDto {
  @OptionalCount() prompt_tokens?: number;
  @OptionalCount() completion_tokens?: number;
  @OptionalCount() total_tokens?: number;
  @OptionalCount() cached_input_tokens?: number | null;
  @OptionalCount() cache_write_tokens?: number | null;
  @OptionalCount() reasoning_tokens?: number | null;
  @OptionalObject() prompt_tokens_details?: object | null;
  @OptionalObject() completion_tokens_details?: object | null;
}
