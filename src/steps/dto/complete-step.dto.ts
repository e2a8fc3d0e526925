import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsOptional, IsString, MaxLength, ValidateNested } from 'class-validator';
import { STOP_REASONS, StopReason } from '../step-status.js';
import { StepMetricsDto } from './step-metrics.dto.js';
import { UsageDto } from './usage.dto.js';
import { OptionalObject } from './validators.js';

export class CancelStepDto {
  @ApiPropertyOptional({ enum: STOP_REASONS, nullable: true, example: 'end_turn' })
  @IsOptional()
  @IsIn(STOP_REASONS)
  stop_reason?: StopReason | null;
}

export class StepSuccessDto extends CancelStepDto {
  @ApiPropertyOptional({ type: () => UsageDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => UsageDto)
  usage?: UsageDto;

  @ApiPropertyOptional({ type: () => StepMetricsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => StepMetricsDto)
  metrics?: StepMetricsDto;
}

export class StepErrorDto extends CancelStepDto {
  @ApiProperty({ maxLength: 512, example: 'ToolExecutionError' })
  @IsString()
  @MaxLength(512)
  error_type: string;
  @ApiProperty({ maxLength: 65_536, example: 'search tool timed out' })
  @IsString()
  @MaxLength(65_536)
  error_message: string;
  @ApiPropertyOptional({ type: String, maxLength: 262_144, nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(262_144)
  error_traceback?: string | null;
  @OptionalObject() error_details?: object | null;
}
