import type { Scope } from '../principal.js';
import type { ApiKeyJson } from './dto/api-key.view.js';
import type { ApiKey } from './entities/api-key.entity.js';

/** A key's record as every view shows it: never the key, never its hash. */
export function presentApiKey(key: ApiKey): ApiKeyJson {
  return {
    id: key.id,
    prefix: key.prefix,
    name: key.name,
    scopes: JSON.parse(key.scopes) as Scope[],
    project_ids: key.projectIds === null ? null : (JSON.parse(key.projectIds) as string[]),
    created_at: key.createdAt,
    last_used_at: key.lastUsedAt,
    revoked_at: key.revokedAt,
  };
}
