export const STEP_STATUSES = ['pending', 'success', 'failed', 'cancelled'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];
export type TerminalStepStatus = Exclude<StepStatus, 'pending'>;

/** Letta's StopReasonType values. */
export const STOP_REASONS = [
  'end_turn',
  'error',
  'llm_api_error',
  'invalid_llm_response',
  'invalid_tool_call',
  'max_steps',
  'max_tokens_exceeded',
  'no_tool_call',
  'tool_rule',
  'cancelled',
  'insufficient_credits',
  'requires_approval',
  'context_window_overflow_in_system_prompt',
] as const;
export type StopReason = (typeof STOP_REASONS)[number];

export const FEEDBACK_VALUES = ['positive', 'negative'] as const;
export type Feedback = (typeof FEEDBACK_VALUES)[number];
