import { ApiProperty } from '@nestjs/swagger';
import { IsIn, ValidateIf } from 'class-validator';
import { FEEDBACK_VALUES, Feedback } from '../step-status.js';
import { OptionalTags } from './validators.js';

export class StepFeedbackDto {
  @ApiProperty({ enum: FEEDBACK_VALUES, nullable: true, description: 'null clears the feedback.' })
  @ValidateIf((dto: StepFeedbackDto) => dto.feedback !== null)
  @IsIn(FEEDBACK_VALUES)
  feedback: Feedback | null;

  @OptionalTags("When given, replaces the step's tags.") tags?: string[];
}
