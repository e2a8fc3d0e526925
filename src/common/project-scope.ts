import type { ObjectLiteral } from 'typeorm';
import { DomainError } from './domain-error.js';

/**
 * The projects a request may see and change (SPEC §10): null for every project (API_KEY, an
 * unbound key, an API without API_KEY), otherwise only these. A key bound to projects sees only
 * their steps, the deliveries of those steps and the endpoints whose filter is limited to them;
 * anything else answers as if it did not exist. A Principal's `projectIds`.
 */
export type ProjectScope = readonly string[] | null;

export const ALL_PROJECTS: ProjectScope = null;

/** Whether a row of `projectId` (null: of no project) is within `scope`. */
export function inScope(scope: ProjectScope, projectId: string | null): boolean {
  return scope === null || (projectId !== null && scope.includes(projectId));
}

/** A condition a list and its paging cursors must both meet: SQL over the list's alias, bound. */
export interface RowCondition {
  sql: string;
  parameters: ObjectLiteral;
}

/** The project of `column` within `scope`; null when every row is visible (nothing is added). */
export function projectColumnCondition(column: string, scope: ProjectScope): RowCondition | null {
  if (scope === null) return null;
  if (scope.length === 0) return { sql: '1 = 0', parameters: {} };
  return { sql: `${column} IN (:...scopeProjectIds)`, parameters: { scopeProjectIds: scope } };
}

/**
 * What a key bound to projects creates or changes must stay within them (SPEC §10): a 400 naming
 * `field`, for a project left out (`given` null) or one beyond the key's.
 */
export class OutsideProjectsError extends DomainError {
  constructor(field: string, given: string | null) {
    super(
      'invalid',
      given === null
        ? `${field} is required with a key bound to projects: name one of the key's projects`
        : `${field} may name only projects the key is bound to; ${JSON.stringify(given)} is not one of them`,
    );
  }
}

/** A 400 naming `field` unless every one of `projectIds` (at least one) is within `scope`. */
export function requireWithinScope(
  scope: ProjectScope,
  field: string,
  projectIds: readonly string[] | null | undefined,
): void {
  if (scope === null) return;
  if (!projectIds?.length) throw new OutsideProjectsError(field, null);
  const outside = projectIds.find((projectId) => !scope.includes(projectId));
  if (outside !== undefined) throw new OutsideProjectsError(field, outside);
}
