import { Type } from 'typebox';
import { UsageSchema } from './usage.dto.js';
import { StepMetricsSchema } from './step-metrics.dto.js';
import type { Static } from 'typebox';
import { named, nullableObject } from '../../common/request-schema.js';
import { STOP_REASONS } from '../step-status.js';
import type { StopReason } from '../step-status.js';
import { field, OptionalObject, oneOfMessages, textMessages } from './validators.js';

const stopReason = () =>
  Type.Optional(
    field<StopReason | null>(
      { type: 'string', enum: [...STOP_REASONS, null], nullable: true, example: 'end_turn' },
      oneOfMessages(STOP_REASONS),
    ),
  );

export const CancelStepSchema = named(
  'CancelStepDto',
  Type.Object({ stop_reason: stopReason() }, { additionalProperties: false }),
);
export type CancelStepDto = Static<typeof CancelStepSchema>;

export const StepSuccessSchema = named(
  'StepSuccessDto',
  Type.Object(
    {
      stop_reason: stopReason(),
      usage: Type.Optional(nullableObject(UsageSchema)),
      metrics: Type.Optional(nullableObject(StepMetricsSchema)),
    },
    { additionalProperties: false },
  ),
  ['usage', 'metrics', 'stop_reason'],
);
export type StepSuccessDto = Static<typeof StepSuccessSchema>;

/** A required text, refused with its length rule first, then its type (as it always was). */
const requiredText = (maxLength: number, example: string) =>
  field<string>({ type: 'string', maxLength, example }, textMessages(maxLength, true));

export const StepErrorSchema = named(
  'StepErrorDto',
  Type.Object(
    {
      stop_reason: stopReason(),
      error_type: requiredText(512, 'ToolExecutionError'),
      error_message: requiredText(65_536, 'search tool timed out'),
      error_traceback: Type.Optional(
        field<string | null>(
          { type: 'string', maxLength: 262_144, nullable: true },
          textMessages(262_144, true),
        ),
      ),
      error_details: Type.Optional(OptionalObject()),
    },
    { additionalProperties: false },
  ),
  ['error_type', 'error_message', 'error_traceback', 'error_details', 'stop_reason'],
);
export type StepErrorDto = Static<typeof StepErrorSchema>;
