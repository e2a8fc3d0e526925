import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  MaxLength,
  ValidateNested,
  registerDecorator,
} from 'class-validator';
import { PAYLOAD_MODES } from '../../../config/webhook.config.js';
import type { PayloadMode } from '../../../config/webhook.config.js';
import { STEP_STATUSES } from '../../../steps/step-status.js';
import type { TerminalStepStatus } from '../../../steps/step-status.js';
import { MAX_HEADERS, endpointUrlProblem, headerProblem } from '../endpoint-rules.js';

export const TERMINAL_STATUSES = STEP_STATUSES.filter((status) => status !== 'pending');
const MAX_FILTER_VALUES = 100;

/** A list of ids in a filter: any one of them matches. */
const IdList = (field: string, example: string) =>
  function (target: object, property: string) {
    ApiPropertyOptional({
      type: 'array',
      items: { type: 'string', maxLength: 512 },
      maxItems: MAX_FILTER_VALUES,
      description: `Steps whose ${field} is any of these`,
      example: [example],
    })(target, property);
    IsOptional()(target, property);
    IsArray()(target, property);
    ArrayMaxSize(MAX_FILTER_VALUES)(target, property);
    IsString({ each: true })(target, property);
    MaxLength(512, { each: true })(target, property);
  };

/** Which steps an endpoint hears about: every criterion given must match; none given = every step. */
export class EndpointFilterDto {
  @ApiPropertyOptional({
    type: 'array',
    items: { type: 'string', enum: TERMINAL_STATUSES },
    description: 'Steps that ended in any of these',
    example: ['failed'],
  })
  @IsOptional()
  @IsArray()
  @IsIn(TERMINAL_STATUSES, {
    each: true,
    message: `statuses must each be one of ${TERMINAL_STATUSES.join(', ')}`,
  })
  statuses?: TerminalStepStatus[];

  @IdList('agent_id', 'agent-1') agent_ids?: string[];
  @IdList('project_id', 'project-1') project_ids?: string[];
  @IdList('run_id', 'run-1') run_ids?: string[];

  @ApiPropertyOptional({
    type: 'array',
    items: { type: 'string', maxLength: 256 },
    maxItems: MAX_FILTER_VALUES,
    description: 'Steps carrying every one of these tags',
    example: ['billing'],
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_FILTER_VALUES)
  @IsString({ each: true })
  @MaxLength(256, { each: true })
  tags?: string[];
}

/** `url` of an endpoint: http(s), without credentials. */
function EndpointUrl(target: object, property: string) {
  registerDecorator({
    name: 'isEndpointUrl',
    target: target.constructor,
    propertyName: property,
    options: {
      message: (args) => `url ${endpointUrlProblem(args.value) ?? 'is refused'}`,
    },
    validator: { validate: (value: unknown) => endpointUrlProblem(value) === null },
  });
}

/** `headers` of an endpoint: names and string values, none of the contract's own. */
function EndpointHeaders(target: object, property: string) {
  registerDecorator({
    name: 'isEndpointHeaders',
    target: target.constructor,
    propertyName: property,
    options: { message: (args) => `headers ${headerProblem(args.value) ?? 'are refused'}` },
    validator: { validate: (value: unknown) => headerProblem(value) === null },
  });
}

export class CreateEndpointDto {
  @ApiProperty({
    format: 'uri',
    maxLength: 2048,
    example: 'https://billing.example.com/hooks/steps',
    description:
      'http or https, without credentials. Loopback, private and link-local addresses are refused ' +
      'when connecting unless STEP_COMPLETE_ALLOWED_NETWORKS opens them.',
  })
  @EndpointUrl
  url: string;

  @ApiPropertyOptional({ type: String, maxLength: 1024, nullable: true, example: 'Billing' })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  description?: string | null;

  @ApiPropertyOptional({
    type: () => EndpointFilterDto,
    nullable: true,
    description: 'Left out or null: every step',
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => EndpointFilterDto)
  filter?: EndpointFilterDto | null;

  @ApiPropertyOptional({ enum: PAYLOAD_MODES, default: 'minimal' })
  @IsOptional()
  @IsIn(PAYLOAD_MODES)
  payload?: PayloadMode | null;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: 4096 },
    maxProperties: MAX_HEADERS,
    nullable: true,
    example: { authorization: 'Bearer receiver-token' },
    description:
      'Extra request headers. Never webhook-*, content-*, host or hop-by-hop headers (connection, ' +
      'keep-alive, transfer-encoding, te, trailer, upgrade, proxy-*).',
  })
  @IsOptional()
  @EndpointHeaders
  headers?: Record<string, string> | null;

  @ApiPropertyOptional({
    type: Boolean,
    default: false,
    description: 'A disabled endpoint is sent nothing; its deliveries wait as held',
  })
  @IsOptional()
  @IsBoolean()
  disabled?: boolean | null;
}

/**
 * Fields left out (or null) keep their value, except `description`, `filter` and `headers`, which
 * null clears.
 */
export class UpdateEndpointDto extends PartialType(CreateEndpointDto) {
  @ApiPropertyOptional({
    format: 'uri',
    maxLength: 2048,
    example: 'https://billing.example.com/hooks/steps',
  })
  @IsOptional()
  @EndpointUrl
  declare url?: string;
}
