import { Type } from 'class-transformer';
import { IsIn, IsOptional, IsString, MaxLength, ValidateNested } from 'class-validator';
import { STOP_REASONS, StopReason } from '../step-status.js';
import { StepMetricsDto } from './step-metrics.dto.js';
import { UsageDto } from './usage.dto.js';
import { OptionalObject } from './validators.js';

export class CancelStepDto {
  @IsOptional() @IsIn(STOP_REASONS) stop_reason?: StopReason | null;
}

export class StepSuccessDto extends CancelStepDto {
  @IsOptional()
  @ValidateNested()
  @Type(() => UsageDto)
  usage?: UsageDto;

  @IsOptional()
  @ValidateNested()
  @Type(() => StepMetricsDto)
  metrics?: StepMetricsDto;
}

export class StepErrorDto extends CancelStepDto {
  @IsString() @MaxLength(512) error_type: string;
  @IsString() @MaxLength(65_536) error_message: string;
  @IsOptional() @IsString() @MaxLength(262_144) error_traceback?: string | null;
  @OptionalObject() error_details?: object | null;
}
