import { NanosecondCount } from './validators.js';

/** Timing of one step in nanoseconds; fields left out keep their recorded value. */
export class StepMetricsDto {
  @NanosecondCount() step_start_ns?: string | null;
  @NanosecondCount() llm_request_start_ns?: string | null;
  @NanosecondCount() llm_request_ns?: string | null;
  @NanosecondCount() tool_execution_ns?: string | null;
  @NanosecondCount() step_ns?: string | null;
}
