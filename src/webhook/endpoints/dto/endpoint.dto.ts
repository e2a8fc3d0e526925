import { Type } from 'typebox';
import type { Static } from 'typebox';
import { ajv, named, nullableObject } from '../../../common/request-schema.js';
import { ENDPOINT_LIMITS, PAYLOAD_MODES } from '../../../config/webhook.config.js';
import type { PayloadMode } from '../../../config/webhook.config.js';
import { STEP_STATUSES } from '../../../steps/step-status.js';
import type { TerminalStepStatus } from '../../../steps/step-status.js';
import { field, lengthOf, oneOfMessages, textMessages } from '../../../steps/dto/validators.js';
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

/** OpenAPI's `uri`, as an endpoint's URL must be (endpoint-rules.ts): the one URL of the API. */
ajv.addFormat('uri', {
  type: 'string',
  validate: (url: string) => endpointUrlProblem(url) === null,
});

/** `x-endpoint-headers`: names, values and reserved names as `headerProblem` reads them. */
ajv.addKeyword({
  keyword: 'x-endpoint-headers',
  schemaType: 'boolean',
  errors: false,
  validate: (_enabled: boolean, data: unknown) => data === null || headerProblem(data) === null,
});

const listed = (messages: Array<string | false>) =>
  messages.filter((message): message is string => message !== false);

/** IsArray, ArrayMinSize(1) and ArrayMaxSize(100) of a filter criterion, as they spoke. */
const listMessages = (value: unknown, property: string) =>
  listed([
    !Array.isArray(value) && `${property} must be an array`,
    !(Array.isArray(value) && value.length >= 1) &&
      `${property} must not be empty: leave the criterion out to hear every value`,
    !(Array.isArray(value) && value.length <= MAX_FILTER_VALUES) &&
      `${property} must contain no more than ${MAX_FILTER_VALUES} elements`,
  ]);

/** The items of a criterion as class-validator's `each` read them: a non-list is its own item. */
const itemsOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

/** IsString({each}) and MaxLength(n, {each}), in `order`. */
const eachTextMessages = (value: unknown, property: string, maxLength: number) => ({
  notText:
    itemsOf(value).some((item) => typeof item !== 'string') &&
    `each value in ${property} must be a string`,
  tooLong:
    itemsOf(value).some((item) => !(typeof item === 'string' && lengthOf(item) <= maxLength)) &&
    `each value in ${property} must be shorter than or equal to ${maxLength} characters`,
});

/**
 * A filter criterion's list: never empty (SPEC §9: an empty list would hear nothing for some
 * criteria and everything for others, so it is refused; leaving the criterion out hears every value).
 */
const criterion = (
  items: Record<string, unknown>,
  description: string,
  example: string[],
  messages: (value: unknown, property: string) => string[],
) =>
  Type.Optional(
    field<string[] | null>(
      {
        type: 'array',
        items,
        minItems: 1,
        maxItems: MAX_FILTER_VALUES,
        description,
        example,
        nullable: true,
      },
      messages,
    ),
  );

/** A list of ids in a filter: any one of them matches. */
const idList = (name: string, example: string) =>
  criterion(
    { type: 'string', maxLength: 512 },
    `Steps whose ${name} is any of these`,
    [example],
    (value, property) => {
      const each = eachTextMessages(value, property, 512);
      return [...listMessages(value, property), ...listed([each.notText, each.tooLong])];
    },
  );

/**
 * Which steps an endpoint hears about: every criterion given must match; none given (or null) =
 * every step. A given list is never empty.
 */
export const EndpointFilterSchema = named(
  'EndpointFilterDto',
  Type.Object(
    {
      statuses: criterion(
        { type: 'string', enum: TERMINAL_STATUSES },
        'Steps that ended in any of these',
        ['failed'],
        (value, property) => [
          ...listed([
            itemsOf(value).some(
              (item) => !TERMINAL_STATUSES.includes(item as TerminalStepStatus),
            ) && `statuses must each be one of ${TERMINAL_STATUSES.join(', ')}`,
          ]),
          ...listMessages(value, property),
        ],
      ),
      agent_ids: idList('agent_id', 'agent-1'),
      project_ids: idList('project_id', 'project-1'),
      run_ids: idList('run_id', 'run-1'),
      tags: criterion(
        { type: 'string', maxLength: 256 },
        'Steps carrying every one of these tags',
        ['billing'],
        (value, property) => {
          const each = eachTextMessages(value, property, 256);
          return [...listed([each.tooLong, each.notText]), ...listMessages(value, property)];
        },
      ),
    },
    { additionalProperties: false },
  ),
);
/** As the service reads it: a criterion given as null is accepted and means left out. */
export interface EndpointFilterDto {
  statuses?: TerminalStepStatus[];
  agent_ids?: string[];
  project_ids?: string[];
  run_ids?: string[];
  tags?: string[];
}

const { maxInFlight: IN_FLIGHT, rateLimit: RATE } = ENDPOINT_LIMITS;

const URL_DOCS = {
  type: 'string',
  format: 'uri',
  maxLength: MAX_URL_LENGTH,
  pattern: ENDPOINT_URL_PATTERN,
  example: 'https://billing.example.com/hooks/steps',
  description:
    'Lower-case http:// or https://, a host name (ASCII; no xn-- labels), IPv4 or [IPv6] address, ' +
    'an optional port, then printable ASCII; no credentials. Loopback, private and link-local ' +
    'addresses are refused when connecting unless STEP_COMPLETE_ALLOWED_NETWORKS opens them.',
};
/** `url` of an endpoint: http(s), without credentials (endpoint-rules.ts says why not). */
const urlMessages = (value: unknown) => [`url ${endpointUrlProblem(value) ?? 'is refused'}`];

/** The fields both the create and the update call take, as the create call takes them. */
const fields = {
  url: field<string>(URL_DOCS, urlMessages),
  description: Type.Optional(
    field<string | null>(
      { type: 'string', maxLength: 1024, nullable: true, example: 'Billing' },
      textMessages(1024, true),
    ),
  ),
  filter: Type.Optional(
    nullableObject(
      EndpointFilterSchema,
      { description: 'An object. Left out or null: every step' },
      () => ['filter must be an object of criteria (or null for every step)'],
    ) as unknown as ReturnType<typeof field<EndpointFilterDto | null>>,
  ),
  payload: Type.Optional(
    field<PayloadMode | null>(
      { type: 'string', enum: [...PAYLOAD_MODES, null], default: 'minimal', nullable: true },
      oneOfMessages(PAYLOAD_MODES),
    ),
  ),
  headers: Type.Optional(
    field<Record<string, string> | null>(
      {
        type: 'object',
        additionalProperties: {
          type: 'string',
          minLength: 1,
          maxLength: MAX_HEADER_VALUE_LENGTH,
          pattern: HEADER_VALUE_PATTERN,
        },
        maxProperties: MAX_HEADERS,
        nullable: true,
        'x-endpoint-headers': true,
        example: { authorization: 'Bearer receiver-token' },
        description:
          `Extra request headers, sent exactly as given (names in lower case). A name is an HTTP token ` +
          `(\`${HEADER_NAME_PATTERN}\`, at most ${MAX_HEADER_NAME_LENGTH} characters; names that differ ` +
          `only in case are one header) and never ${RESERVED_HEADERS_TEXT}; nor __proto__, constructor ` +
          `or prototype, refused in every body (toString, valueOf and the like are sent as any other ` +
          `name). A value is 1 to ${MAX_HEADER_VALUE_LENGTH} printable ` +
          'ASCII characters with spaces or tabs only between them.',
      },
      (value) => [`headers ${headerProblem(value) ?? 'are refused'}`],
    ),
  ),
  disabled: Type.Optional(
    field<boolean | null>(
      {
        type: 'boolean',
        default: false,
        description: 'A disabled endpoint is sent nothing; its deliveries wait as held',
        nullable: true,
      },
      () => ['disabled must be a boolean value'],
    ),
  ),
  /**
   * An integer within ENDPOINT_LIMITS. null is refused, not read as "left out": a client sending
   * null most likely means "no limit", which does not exist, and would otherwise get the default
   * (create) or the old value (PATCH) without a word.
   */
  max_in_flight: Type.Optional(
    field<number>(
      {
        type: 'integer',
        minimum: IN_FLIGHT.min,
        maximum: IN_FLIGHT.max,
        default: IN_FLIGHT.default,
        description:
          'Attempts of this endpoint in flight at once, per delivering process (with N processes, up ' +
          `to N × max_in_flight). Beyond it deliveries wait as pending, in order. Never null.`,
      },
      // One message naming the field and its range.
      (value) => [
        `max_in_flight must be an integer from ${IN_FLIGHT.min} to ${IN_FLIGHT.max}` +
          (value === null
            ? ` (null is refused: leave it out for the default, ${IN_FLIGHT.default})`
            : ''),
      ],
    ),
  ),
  /** Attempts per second within ENDPOINT_LIMITS; null = no limit. */
  rate_limit: Type.Optional(
    field<number | null>(
      {
        type: 'number',
        minimum: RATE.min,
        maximum: RATE.max,
        nullable: true,
        default: null,
        example: 50,
        description:
          'Attempts of this endpoint per second, held across every delivering process sharing the ' +
          'database; null (the default): no limit. Beyond it deliveries wait as pending, in order.',
      },
      () => [
        `rate_limit must be a number from ${RATE.min} to ${RATE.max} (attempts per second), ` +
          'or null for no limit',
      ],
    ),
  ),
};

export const CreateEndpointSchema = named(
  'CreateEndpointDto',
  Type.Object(fields, { additionalProperties: false }),
);
export type CreateEndpointDto = Static<typeof CreateEndpointSchema>;

/**
 * Fields left out (or null) keep their value, except `description`, `filter`, `headers` and
 * `rate_limit`, which null clears, and `max_in_flight`, which refuses null.
 */
export const UpdateEndpointSchema = named(
  'UpdateEndpointDto',
  Type.Object(
    {
      ...fields,
      url: Type.Optional(field<string | null>({ ...URL_DOCS, nullable: true }, urlMessages)),
    },
    { additionalProperties: false },
  ),
  [
    'url',
    'max_in_flight',
    ...Object.keys(fields).filter((name) => name !== 'url' && name !== 'max_in_flight'),
  ],
);
export type UpdateEndpointDto = Static<typeof UpdateEndpointSchema>;
