import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  ValidateBy,
  ValidateIf,
  ValidateNested,
  registerDecorator,
} from 'class-validator';
import { AsGiven } from '../../../common/as-given.js';
import { ENDPOINT_LIMITS, PAYLOAD_MODES } from '../../../config/webhook.config.js';
import type { PayloadMode } from '../../../config/webhook.config.js';
import { STEP_STATUSES } from '../../../steps/step-status.js';
import type { TerminalStepStatus } from '../../../steps/step-status.js';
import {
  ENDPOINT_URL_PATTERN,
  HEADER_NAME_PATTERN,
  HEADER_VALUE_PATTERN,
  MAX_HEADERS,
  MAX_HEADER_NAME_LENGTH,
  MAX_HEADER_VALUE_LENGTH,
  MAX_URL_LENGTH,
  RESERVED_HEADERS_TEXT,
  endpointUrlProblem,
  headerProblem,
} from '../endpoint-rules.js';

export const TERMINAL_STATUSES = STEP_STATUSES.filter((status) => status !== 'pending');
const MAX_FILTER_VALUES = 100;

/**
 * A filter criterion's list: never empty (SPEC §9: an empty list would hear nothing for some
 * criteria and everything for others, so it is refused; leaving the criterion out hears every value).
 */
const FilterList = (property: string) =>
  applyDecorators(
    IsOptional(),
    IsArray(),
    ArrayMinSize(1, {
      message: `${property} must not be empty: leave the criterion out to hear every value`,
    }),
    ArrayMaxSize(MAX_FILTER_VALUES),
  );

/** A list of ids in a filter: any one of them matches. */
const IdList = (field: string, example: string) =>
  function (target: object, property: string) {
    ApiPropertyOptional({
      type: 'array',
      items: { type: 'string', maxLength: 512 },
      minItems: 1,
      maxItems: MAX_FILTER_VALUES,
      description: `Steps whose ${field} is any of these`,
      example: [example],
    })(target, property);
    FilterList(property)(target, property);
    IsString({ each: true })(target, property);
    MaxLength(512, { each: true })(target, property);
  };

/**
 * Which steps an endpoint hears about: every criterion given must match; none given (or null) =
 * every step. A given list is never empty.
 */
export class EndpointFilterDto {
  @ApiPropertyOptional({
    type: 'array',
    items: { type: 'string', enum: TERMINAL_STATUSES },
    minItems: 1,
    maxItems: MAX_FILTER_VALUES,
    description: 'Steps that ended in any of these',
    example: ['failed'],
  })
  @FilterList('statuses')
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
    minItems: 1,
    maxItems: MAX_FILTER_VALUES,
    description: 'Steps carrying every one of these tags',
    example: ['billing'],
  })
  @FilterList('tags')
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

const { maxInFlight: IN_FLIGHT, rateLimit: RATE } = ENDPOINT_LIMITS;

/**
 * `max_in_flight`: an integer within ENDPOINT_LIMITS. null is refused, not read as "left out": a
 * client sending null most likely means "no limit", which does not exist, and would otherwise get
 * the default (create) or the old value (PATCH) without a word.
 */
function MaxInFlight() {
  return applyDecorators(
    ApiPropertyOptional({
      type: 'integer',
      minimum: IN_FLIGHT.min,
      maximum: IN_FLIGHT.max,
      default: IN_FLIGHT.default,
      // Kept by refineApiDocument: the one optional field that refuses null.
      nullable: false,
      description:
        'Attempts of this endpoint in flight at once, per delivering process (with N processes, up ' +
        `to N × max_in_flight). Beyond it deliveries wait as pending, in order. Never null.`,
    }),
    ValidateIf((_dto: object, value: unknown) => value !== undefined),
    // One rule, so a wrong value gets one message naming the field and its range.
    ValidateBy({
      name: 'isMaxInFlight',
      validator: {
        validate: (value: unknown) =>
          Number.isInteger(value) &&
          (value as number) >= IN_FLIGHT.min &&
          (value as number) <= IN_FLIGHT.max,
        defaultMessage: (args) =>
          `max_in_flight must be an integer from ${IN_FLIGHT.min} to ${IN_FLIGHT.max}` +
          (args?.value === null
            ? ` (null is refused: leave it out for the default, ${IN_FLIGHT.default})`
            : ''),
      },
    }),
  );
}

/** `rate_limit`: attempts per second within ENDPOINT_LIMITS; null = no limit. */
function RateLimit() {
  return applyDecorators(
    ApiPropertyOptional({
      type: 'number',
      minimum: RATE.min,
      maximum: RATE.max,
      nullable: true,
      default: null,
      example: 50,
      description:
        'Attempts of this endpoint per second, held across every delivering process sharing the ' +
        'database; null (the default): no limit. Beyond it deliveries wait as pending, in order.',
    }),
    IsOptional(),
    ValidateBy({
      name: 'isRateLimit',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'number' && value >= RATE.min && value <= RATE.max,
        defaultMessage: () =>
          `rate_limit must be a number from ${RATE.min} to ${RATE.max} (attempts per second), ` +
          'or null for no limit',
      },
    }),
  );
}

const URL_DOCS = {
  type: String,
  format: 'uri',
  maxLength: MAX_URL_LENGTH,
  pattern: ENDPOINT_URL_PATTERN,
  example: 'https://billing.example.com/hooks/steps',
  description:
    'Lower-case http:// or https://, a host name (ASCII; no xn-- labels), IPv4 or [IPv6] address, ' +
    'an optional port, then printable ASCII; no credentials. Loopback, private and link-local ' +
    'addresses are refused when connecting unless STEP_COMPLETE_ALLOWED_NETWORKS opens them.',
};

export class CreateEndpointDto {
  @ApiProperty(URL_DOCS)
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
    description: 'An object. Left out or null: every step',
  })
  @IsOptional()
  @IsObject({ message: 'filter must be an object of criteria (or null for every step)' })
  @ValidateNested()
  @Type(() => EndpointFilterDto)
  filter?: EndpointFilterDto | null;

  @ApiPropertyOptional({ enum: PAYLOAD_MODES, default: 'minimal' })
  @IsOptional()
  @IsIn(PAYLOAD_MODES)
  payload?: PayloadMode | null;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: {
      type: 'string',
      minLength: 1,
      maxLength: MAX_HEADER_VALUE_LENGTH,
      pattern: HEADER_VALUE_PATTERN,
    },
    maxProperties: MAX_HEADERS,
    nullable: true,
    example: { authorization: 'Bearer receiver-token' },
    description:
      `Extra request headers, sent exactly as given (names in lower case). A name is an HTTP token ` +
      `(\`${HEADER_NAME_PATTERN}\`, at most ${MAX_HEADER_NAME_LENGTH} characters; names that differ ` +
      `only in case are one header) and never ${RESERVED_HEADERS_TEXT}; nor __proto__, constructor ` +
      `or prototype, refused in every body (toString, valueOf and the like are sent as any other ` +
      `name). A value is 1 to ${MAX_HEADER_VALUE_LENGTH} printable ` +
      'ASCII characters with spaces or tabs only between them.',
  })
  @IsOptional()
  @EndpointHeaders
  @AsGiven()
  headers?: Record<string, string> | null;

  @ApiPropertyOptional({
    type: Boolean,
    default: false,
    description: 'A disabled endpoint is sent nothing; its deliveries wait as held',
  })
  @IsOptional()
  @IsBoolean()
  disabled?: boolean | null;

  @MaxInFlight() max_in_flight?: number;

  @RateLimit() rate_limit?: number | null;
}

/**
 * Fields left out (or null) keep their value, except `description`, `filter`, `headers` and
 * `rate_limit`, which null clears, and `max_in_flight`, which refuses null.
 */
export class UpdateEndpointDto extends PartialType(CreateEndpointDto) {
  @ApiPropertyOptional(URL_DOCS)
  @IsOptional()
  @EndpointUrl
  declare url?: string;

  // PartialType makes every field IsOptional, which would let null through: the rule again.
  @MaxInFlight() declare max_in_flight?: number;
}
