import { Type } from 'typebox';
import type { Static } from 'typebox';
import { DateTime, Nullable, StringEnum, namedView } from '../../../common/response-schema.js';
import { SCOPES } from '../../principal.js';
import { API_KEY_ID } from '../api-key-id.js';

const KEY_FIELDS = {
  id: Type.String({
    pattern: API_KEY_ID.pattern.source,
    example: 'key_0f1e2d3c4b5a69788796a5b4c3d2e1f0',
  }),
  prefix: Type.String({
    description: "The key's first characters, to tell keys apart",
    example: 'shk_Xq3vN0aB',
  }),
  name: Type.String(),
  scopes: Type.Array(StringEnum(SCOPES)),
  project_ids: Nullable(
    Type.Array(Type.String(), {
      description: 'The only projects the key sees; null: every project',
    }),
  ),
  created_at: DateTime(),
  last_used_at: Nullable(
    DateTime({ description: 'When the key was last used, to the minute; null: never' }),
  ),
  revoked_at: Nullable(DateTime({ description: 'When it was revoked; null: it is valid' })),
};

/** A key as lists show it: never the key itself. */
export const ApiKeyView = namedView(
  'ApiKeyView',
  Type.Object(KEY_FIELDS, { additionalProperties: false }),
);
export type ApiKeyJson = Static<typeof ApiKeyView>;

const { id: ID, ...AFTER_ID } = KEY_FIELDS;

/** The answer to a create: the key itself, shown this once. */
export const CreatedApiKeyView = namedView(
  'CreatedApiKeyView',
  Type.Object(
    {
      id: ID,
      key: Type.String({
        description: 'The key: shown in this answer only, stored only as a hash',
        pattern: '^shk_[A-Za-z0-9_-]{43}$',
        example: 'shk_Xq3vN0aBc1dE2fG3hI4jK5lM6nO7pQ8rS9tU0vW1xY2',
      }),
      ...AFTER_ID,
    },
    { additionalProperties: false },
  ),
);
export type CreatedApiKeyJson = Static<typeof CreatedApiKeyView>;

const { prefix: PREFIX, created_at: CREATED_AT } = KEY_FIELDS;

/**
 * The calling key's own record. API_KEY (and every request while API_KEY is empty) has no record:
 * `id`, `prefix` and `created_at` null, `name` "API_KEY", every scope, every project.
 */
export const CurrentApiKeyView = namedView(
  'CurrentApiKeyView',
  Type.Object(
    {
      ...KEY_FIELDS,
      id: Nullable(ID),
      prefix: Nullable(PREFIX),
      created_at: Nullable(CREATED_AT),
    },
    { additionalProperties: false },
  ),
);
export type CurrentApiKeyJson = Static<typeof CurrentApiKeyView>;
