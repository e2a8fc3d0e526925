import { Type } from 'typebox';
import type { Static } from 'typebox';
import { named } from '../../common/request-schema.js';
import { NanosecondCount } from './validators.js';

/** Timing of one step in nanoseconds; fields left out keep their recorded value. */
export const StepMetricsSchema = named(
  'StepMetricsDto',
  Type.Object(
    {
      step_start_ns: Type.Optional(NanosecondCount()),
      llm_request_start_ns: Type.Optional(NanosecondCount()),
      llm_request_ns: Type.Optional(NanosecondCount()),
      tool_execution_ns: Type.Optional(NanosecondCount()),
      step_ns: Type.Optional(NanosecondCount()),
    },
    { additionalProperties: false },
  ),
);
export type StepMetricsDto = Static<typeof StepMetricsSchema>;
