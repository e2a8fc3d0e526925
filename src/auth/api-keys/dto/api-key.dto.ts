import { Type } from 'typebox';
import { named } from '../../../common/request-schema.js';
import { field, lengthOf } from '../../../steps/dto/validators.js';
import { SCOPES } from '../../principal.js';
import type { Scope } from '../../principal.js';

export const MAX_KEY_NAME_LENGTH = 200;
/** A step's project_id is at most 512 characters: a key is bound to ids a step can have. */
export const MAX_PROJECT_ID_LENGTH = 512;
const MAX_PROJECT_IDS = 100;

const listed = (messages: Array<string | false>) =>
  messages.filter((message): message is string => message !== false);

const isList = (value: unknown): value is unknown[] => Array.isArray(value);

/** A new key: what it is called, what it may do, and (optionally) the only projects it sees. */
export const CreateApiKeySchema = named(
  'CreateApiKeyDto',
  Type.Object(
    {
      name: field<string>(
        {
          type: 'string',
          minLength: 1,
          maxLength: MAX_KEY_NAME_LENGTH,
          description: 'What the key is for, shown in lists (the key itself is shown once)',
          example: 'billing dashboard',
        },
        (value) =>
          listed([
            typeof value !== 'string' && 'name must be a string',
            typeof value === 'string' && value.length === 0 && 'name must not be empty',
            typeof value === 'string' &&
              lengthOf(value) > MAX_KEY_NAME_LENGTH &&
              `name must be shorter than or equal to ${MAX_KEY_NAME_LENGTH} characters`,
          ]),
      ),
      scopes: field<Scope[]>(
        {
          type: 'array',
          items: { type: 'string', enum: [...SCOPES] },
          minItems: 1,
          uniqueItems: true,
          description: 'What the key may do; admin manages keys',
          example: ['steps:write', 'steps:read'],
        },
        (value) =>
          listed([
            !isList(value) && 'scopes must be an array',
            isList(value) && value.length === 0 && 'scopes must not be empty',
            isList(value) &&
              value.some((scope) => !SCOPES.includes(scope as Scope)) &&
              `scopes must each be one of ${SCOPES.join(', ')}`,
            isList(value) &&
              new Set(value).size < value.length &&
              "scopes's elements must be unique",
          ]),
      ),
      project_ids: Type.Optional(
        field<string[]>(
          {
            type: 'array',
            items: { type: 'string', minLength: 1, maxLength: MAX_PROJECT_ID_LENGTH },
            minItems: 1,
            maxItems: MAX_PROJECT_IDS,
            uniqueItems: true,
            description:
              "The only projects (a step's project_id) the key sees; left out: every project",
            example: ['project-1'],
          },
          (value) =>
            listed([
              !isList(value) &&
                'project_ids must be an array (leave it out for a key that sees every project)',
              isList(value) &&
                value.length === 0 &&
                'project_ids must not be empty: leave it out for a key that sees every project',
              isList(value) &&
                value.length > MAX_PROJECT_IDS &&
                `project_ids must contain no more than ${MAX_PROJECT_IDS} elements`,
              isList(value) &&
                value.some(
                  (id) =>
                    typeof id !== 'string' ||
                    id.length === 0 ||
                    lengthOf(id) > MAX_PROJECT_ID_LENGTH,
                ) &&
                `each value in project_ids must be a non-empty string of at most ${MAX_PROJECT_ID_LENGTH} characters`,
              isList(value) &&
                new Set(value).size < value.length &&
                "project_ids's elements must be unique",
            ]),
        ),
      ),
    },
    { additionalProperties: false },
  ),
);
export interface CreateApiKeyDto {
  name: string;
  scopes: Scope[];
  project_ids?: string[];
}
