import { Type } from 'typebox';
import type { Static } from 'typebox';
import { named } from '../../common/request-schema.js';
import { FEEDBACK_VALUES } from '../step-status.js';
import type { Feedback } from '../step-status.js';
import { field, oneOfMessages, OptionalTags } from './validators.js';

export const StepFeedbackSchema = named(
  'StepFeedbackDto',
  Type.Object(
    {
      feedback: field<Feedback | null>(
        {
          type: 'string',
          enum: [...FEEDBACK_VALUES, null],
          nullable: true,
          description: 'null clears the feedback.',
        },
        oneOfMessages(FEEDBACK_VALUES),
      ),
      tags: Type.Optional(OptionalTags("When given, replaces the step's tags.")),
    },
    { additionalProperties: false },
  ),
);
export type StepFeedbackDto = Static<typeof StepFeedbackSchema>;
