import { createHash } from 'node:crypto';
import { QueryFailedError } from 'typeorm';
import type { EntityManager, ObjectLiteral } from 'typeorm';

/** What a better-sqlite3 Statement offers that is used here. */
interface SqliteStatement {
  readonly reader: boolean;
  all(...values: unknown[]): ObjectLiteral[];
  run(...values: unknown[]): { changes: number };
}
interface SqliteDatabase {
  prepare(text: string): SqliteStatement;
}
interface PgClient {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{
    rows: ObjectLiteral[];
    rowCount: number | null;
  }>;
}

/** The statement's text for each dialect, when they differ (`:name` parameters in both). */
export interface DialectSql {
  sqlite: string;
  postgres: string;
}

interface Compiled {
  text: string;
  /** The parameter each placeholder takes, in order. */
  keys: string[];
}

/**
 * One statement of the hot path (a transition, the fan-out insert, a claim, an attempt record),
 * prepared once per connection and run many times, on the connection and in the transaction that
 * TypeORM opened (TransactionRunner gives the manager): on SQLite a better-sqlite3 Statement made
 * once on TypeORM's own `databaseConnection`; on PostgreSQL a pg named statement on the query
 * runner's client, which pg parses once per connection. Parameters are named (`:id`) and bound by
 * value; rows come back as the driver gives them (column names, no entity), and errors as TypeORM's
 * QueryFailedError, so callers read both dialects alike and the error checks keep working. No
 * `:...list` parameters: a statement's text never changes.
 */
export class PreparedStatement<Row extends ObjectLiteral = ObjectLiteral> {
  private readonly sqlite: Compiled;
  private readonly postgres: Compiled;
  /** Unique per text: pg refuses one name for two texts on a connection. */
  private readonly pgName: string;
  /** Per better-sqlite3 connection (tests open several). */
  private readonly statements = new WeakMap<SqliteDatabase, SqliteStatement>();

  constructor(name: string, sql: string | DialectSql) {
    const { sqlite, postgres } = typeof sql === 'string' ? { sqlite: sql, postgres: sql } : sql;
    this.sqlite = compile(sqlite, () => '?');
    this.postgres = compile(postgres, (index) => `$${index}`);
    const hash = createHash('sha1').update(this.postgres.text).digest('hex').slice(0, 12);
    this.pgName = `stephook_${name}_${hash}`;
  }

  /** Runs it; the rows it returns (RETURNING or SELECT), none for other statements. */
  async rows(manager: EntityManager, parameters: ObjectLiteral): Promise<Row[]> {
    const runner = manager.queryRunner;
    if (!runner) throw new Error('A prepared statement needs the manager of a query runner');
    if (manager.connection.options.type === 'postgres') {
      const values = this.postgres.keys.map((key) => value(parameters, key));
      const client = (await runner.connect()) as PgClient;
      try {
        const result = await client.query({ name: this.pgName, text: this.postgres.text, values });
        return result.rows as Row[];
      } catch (error) {
        throw new QueryFailedError(this.postgres.text, values, error as Error);
      }
    }
    const values = this.sqlite.keys.map((key) => sqliteValue(value(parameters, key)));
    const database = (await runner.connect()) as SqliteDatabase;
    try {
      const statement = this.statementOn(database);
      if (statement.reader) return statement.all(...values) as Row[];
      statement.run(...values);
      return [];
    } catch (error) {
      throw new QueryFailedError(this.sqlite.text, values, error as Error);
    }
  }

  private statementOn(database: SqliteDatabase): SqliteStatement {
    let statement = this.statements.get(database);
    if (!statement) {
      statement = database.prepare(this.sqlite.text);
      this.statements.set(database, statement);
    }
    return statement;
  }
}

function compile(sql: string, placeholder: (index: number) => string): Compiled {
  const keys: string[] = [];
  const text = sql.replace(/(?<!:):(\.\.\.)?([A-Za-z_]\w*)/g, (_whole, spread, key: string) => {
    if (spread) throw new Error(`A prepared statement takes no list parameter (:...${key})`);
    keys.push(key);
    return placeholder(keys.length);
  });
  return { text, keys };
}

function value(parameters: ObjectLiteral, key: string): unknown {
  if (!Object.hasOwn(parameters, key)) throw new Error(`SQL parameter :${key} has no value`);
  // Left out on purpose (an optional filter): NULL, as pg and TypeORM bind it.
  return parameters[key] ?? null;
}

/** better-sqlite3 binds no booleans: 0/1, as TypeORM's driver does. */
function sqliteValue(value: unknown): unknown {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}
