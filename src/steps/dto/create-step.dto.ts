import { Type } from 'typebox';
import type { Static } from 'typebox';
import { named } from '../../common/request-schema.js';
import { STEP_ID_PATTERN } from '../step-id.js';
import { USAGE_FIELDS } from './usage.dto.js';
import { field, OptionalCount, OptionalTags, OptionalText } from './validators.js';

const OWN_FIELDS = {
  id: Type.Optional(
    field<string | null>(
      {
        type: 'string',
        pattern: STEP_ID_PATTERN.source,
        description: 'step-<uuid v4>; generated when left out.',
        example: 'step-3f1d2c4b-5a6e-4f70-8b9c-0d1e2f3a4b5c',
        nullable: true,
      },
      () => ['id must be "step-" followed by a lowercase UUID v4'],
    ),
  ),
  agent_id: Type.Optional(OptionalText(512, 'agent-1')),
  run_id: Type.Optional(OptionalText(512, 'run-1')),
  project_id: Type.Optional(OptionalText()),
  origin: Type.Optional(OptionalText()),
  provider_name: Type.Optional(OptionalText()),
  provider_category: Type.Optional(OptionalText()),
  model: Type.Optional(OptionalText(512, 'gpt-4o')),
  model_endpoint: Type.Optional(OptionalText(2048)),
  context_window_limit: Type.Optional(OptionalCount()),
  trace_id: Type.Optional(OptionalText()),
  request_id: Type.Optional(OptionalText()),
  tags: Type.Optional(OptionalTags()),
};

/** A new step: always created `pending`; usage may be known already or reported on success. */
export const CreateStepSchema = named(
  'CreateStepDto',
  Type.Object({ ...USAGE_FIELDS, ...OWN_FIELDS }, { additionalProperties: false }),
  [...Object.keys(OWN_FIELDS), ...Object.keys(USAGE_FIELDS)],
);
export type CreateStepDto = Static<typeof CreateStepSchema>;
