import type { EntityManager, ObjectLiteral } from 'typeorm';

/**
 * Hand-written SQL where TypeORM's query building cost more CPU than the database itself, or where
 * it cannot say what is meant (claims, bulk moves between states). Parameters are named (`:id`,
 * `:...ids`) and bound the way the driver wants (`?` or `$1`); rows come back with their column
 * names. Needs a query runner's manager (TransactionRunner gives one). The hottest statements,
 * whose text never changes, are prepared once instead (`prepared-statements.ts`).
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
