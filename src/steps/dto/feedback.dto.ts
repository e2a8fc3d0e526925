import { IsIn, ValidateIf } from 'class-validator';
import { FEEDBACK_VALUES, Feedback } from '../step-status.js';
import { OptionalTags } from './validators.js';

export class StepFeedbackDto {
  /** `null` clears the feedback; leaving the field out is an error. */
  @ValidateIf((dto: StepFeedbackDto) => dto.feedback !== null)
  @IsIn(FEEDBACK_VALUES)
  feedback: Feedback | null;

  /** When given, replaces the step's tags. */
  @OptionalTags() tags?: string[];
}
