import type { RowCondition, ProjectScope } from '../../common/project-scope.js';
import type { EndpointFilter } from './endpoint.js';

/**
 * Which endpoints a key bound to projects may see and change (SPEC §10): those whose filter is
 * limited to its projects — `project_ids` given, and every one of them the key's. An endpoint with
 * no project criterion hears other projects' steps too, and the environment endpoint is the
 * operator's: neither is visible to a bound key. Two forms that must agree: one endpoint's stored
 * filter, checked here, and a list's SQL condition (`endpointScopeCondition`).
 */
export function endpointInScope(storedFilter: string | null, scope: ProjectScope): boolean {
  if (scope === null) return true;
  const projectIds = storedFilter ? (JSON.parse(storedFilter) as EndpointFilter).project_ids : null;
  return (
    Array.isArray(projectIds) &&
    projectIds.length > 0 &&
    projectIds.every((projectId) => scope.includes(projectId))
  );
}

/**
 * `endpointInScope` over the stored filter column `e.filter` of a list (JSON text on both
 * dialects); null when every endpoint is visible.
 */
export function endpointScopeCondition(
  scope: ProjectScope,
  dialect: 'postgres' | 'sqlite',
): RowCondition | null {
  if (scope === null) return null;
  if (scope.length === 0) return { sql: '1 = 0', parameters: {} };
  const sql =
    dialect === 'postgres'
      ? `(e.filter IS NOT NULL
          AND jsonb_typeof(CAST(e.filter AS jsonb) -> 'project_ids') = 'array'
          AND jsonb_array_length(CAST(e.filter AS jsonb) -> 'project_ids') > 0
          AND NOT EXISTS (
            SELECT 1 FROM jsonb_array_elements_text(CAST(e.filter AS jsonb) -> 'project_ids') AS p (v)
             WHERE p.v NOT IN (:...scopeProjectIds)))`
      : `(e.filter IS NOT NULL
          AND json_type(e.filter, '$.project_ids') = 'array'
          AND json_array_length(e.filter, '$.project_ids') > 0
          AND NOT EXISTS (
            SELECT 1 FROM json_each(e.filter, '$.project_ids') AS p
             WHERE p.value NOT IN (:...scopeProjectIds)))`;
  return { sql, parameters: { scopeProjectIds: scope } };
}
