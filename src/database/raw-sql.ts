import type { EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';

/**
 * Hand-written SQL for the few statements on the hot path (a terminal transition, a claim, an
 * attempt record), where TypeORM's query building cost more CPU than SQLite itself. Parameters are
 * named (`:id`, `:...ids`) and bound the way the driver wants (`?` or `$1`); rows come back with
 * their column names and are turned into entities with the same per-column conversions TypeORM uses,
 * so both dialects read alike. Needs a query runner's manager (TransactionRunner gives one).
 */
export async function queryRows(
  manager: EntityManager,
  sql: string,
  parameters: ObjectLiteral = {},
): Promise<ObjectLiteral[]> {
  if (!manager.queryRunner) throw new Error('queryRows needs the manager of a query runner');
  const [query, values] = bindNamed(sql, parameters, isPostgres(manager));
  const result = await manager.queryRunner.query(query, values, true);
  return (result.records as ObjectLiteral[] | undefined) ?? [];
}

/** Whether `manager` talks to PostgreSQL (row locks, `$1` parameters), else SQLite. */
export function isPostgres(manager: EntityManager): boolean {
  return manager.connection.options.type === 'postgres';
}

/**
 * Named parameters to positional ones. Unlike TypeORM's own escaping, values are never written into
 * the SQL text, so each statement has one text and SQLite's prepared-statement cache keeps it.
 */
function bindNamed(
  sql: string,
  parameters: ObjectLiteral,
  dollarNumbered: boolean,
): [string, unknown[]] {
  const values: unknown[] = [];
  const query = sql.replace(/(?<!:):(\.\.\.)?([A-Za-z_]\w*)/g, (_whole, spread, key: string) => {
    if (!Object.hasOwn(parameters, key)) throw new Error(`SQL parameter :${key} has no value`);
    const list: unknown[] = spread ? (parameters[key] as unknown[]) : [parameters[key]];
    return list
      .map((value) => {
        values.push(value);
        return dollarNumbered ? `$${values.length}` : '?';
      })
      .join(', ');
  });
  return [query, values];
}

/** A row read with `queryRows` (every column of the entity's table) as an entity. */
export function hydrate<T extends ObjectLiteral>(
  manager: EntityManager,
  target: EntityTarget<T>,
  row: ObjectLiteral,
): T {
  const metadata = manager.connection.getMetadata(target);
  const entity = metadata.create() as T;
  for (const column of metadata.columns) {
    column.setEntityValue(
      entity,
      manager.connection.driver.prepareHydratedValue(row[column.databaseName], column),
    );
  }
  return entity;
}

/**
 * `SET` assignments for the given entity properties, and their parameters (prefixed `set_`), with
 * each value converted for its column (JSON columns serialised, and so on).
 */
export function setClause<T extends ObjectLiteral>(
  manager: EntityManager,
  target: EntityTarget<T>,
  changes: Partial<T>,
): { sql: string; parameters: ObjectLiteral } {
  const metadata = manager.connection.getMetadata(target);
  const assignments: string[] = [];
  const parameters: ObjectLiteral = {};
  for (const [property, value] of Object.entries(changes)) {
    const column = metadata.findColumnWithPropertyName(property);
    if (!column) throw new Error(`${metadata.name} has no property ${property}`);
    assignments.push(`${column.databaseName} = :set_${property}`);
    parameters[`set_${property}`] = manager.connection.driver.preparePersistentValue(
      value,
      column,
    ) as unknown;
  }
  return { sql: assignments.join(', '), parameters };
}
