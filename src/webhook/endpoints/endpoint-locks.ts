import type { EntityManager } from 'typeorm';
import { isPostgres, queryRows } from '../../database/raw-sql.js';

/**
 * How endpoint changes and transitions agree on an endpoint's state (SPEC §9 "Nothing is
 * stranded"). Whether a new delivery is `pending` or `held` — or not written at all, for an endpoint
 * deleted meanwhile — is decided inside the transition's transaction from the endpoint's committed
 * row, read under a shared lock; enabling, disabling and deleting take the row's exclusive lock
 * first. So a transition and a change on the same endpoint run one after the other: a delivery
 * written `held` commits before the enable that releases it starts its release, and one written after
 * the enable reads the endpoint enabled. Nothing is decided from the in-memory registry, which may
 * be up to a second behind another process's change.
 *
 * On PostgreSQL that is `FOR KEY SHARE` against `FOR UPDATE` (many transitions share an endpoint's
 * lock; only a change waits). On SQLite every transaction of the process runs alone
 * (TransactionRunner) and the file has one writer, so the plain reads are enough.
 *
 * The lock order, everywhere: step rows → endpoint rows (in id order) → delivery and attempt rows
 * → the endpoints' revision row. Transitions (step, then endpoints, then new deliveries), attempt
 * records (the health streak's endpoints, then deliveries), endpoint changes, retention (steps, then
 * their deliveries) and the reconciliation pass all follow it, so they cannot deadlock one another.
 */

/**
 * In a transition (or when a claimed delivery is set aside): the committed state of these API
 * endpoints, those deleted being absent.
 */
export async function readEndpointStates(
  manager: EntityManager,
  ids: string[],
): Promise<Map<string, { disabled: boolean }>> {
  if (ids.length === 0) return new Map();
  const rows = await queryRows(
    manager,
    `SELECT id, disabled FROM webhook_endpoints WHERE id IN (:...ids)
      ORDER BY id ${lockClause(manager, 'FOR KEY SHARE')}`,
    { ids },
  );
  return new Map(rows.map((row) => [row.id as string, { disabled: Boolean(row.disabled) }]));
}

/** In an endpoint change, before anything else: takes the endpoint's row for the change. */
export async function lockEndpointForChange(manager: EntityManager, id: string): Promise<boolean> {
  const rows = await queryRows(
    manager,
    `SELECT id FROM webhook_endpoints WHERE id = :id ${lockClause(manager, 'FOR UPDATE')}`,
    { id },
  );
  return rows.length > 0;
}

function lockClause(manager: EntityManager, clause: string): string {
  return isPostgres(manager) ? clause : '';
}
