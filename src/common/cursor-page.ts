import { Brackets, ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { Type } from 'typebox';
import { DomainError } from './domain-error.js';
import type { RowCondition } from './project-scope.js';
import { reportOrder, withMessages } from './request-schema.js';
import type { TSchema } from 'typebox';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

/** The paging fields of every list's query (`after` / `before` are the list's own: `idCursor`). */
export const PAGE_FIELDS = {
  limit: Type.Optional(
    withMessages(
      Type.Unsafe<number>({
        type: 'integer',
        minimum: 1,
        maximum: MAX_PAGE_SIZE,
        default: DEFAULT_PAGE_SIZE,
      }),
      // One message, so `?limit=1&limit=2` is not told three things that contradict each other.
      (value) => [
        Array.isArray(value)
          ? 'limit must be given once'
          : `limit must be an integer from 1 to ${MAX_PAGE_SIZE}`,
      ],
    ),
  ),
  order: Type.Optional(
    withMessages(
      Type.Unsafe<'asc' | 'desc'>({ type: 'string', enum: ['asc', 'desc'], default: 'desc' }),
      () => ['order must be one of the following values: asc, desc'],
    ),
  ),
  order_by: Type.Optional(
    withMessages(
      Type.Unsafe<'created_at'>({ type: 'string', enum: ['created_at'], default: 'created_at' }),
      () => ['order_by must be one of the following values: created_at'],
    ),
  ),
};

/** A list's query schema, its problems reported field by field with the paging fields last. */
export function reportedOwnFirst<T extends TSchema>(schema: T): T {
  const names = Object.keys((schema as { properties?: object }).properties ?? {});
  const paging = Object.keys(PAGE_FIELDS);
  return reportOrder(schema, [
    ...names.filter((name) => !paging.includes(name)),
    ...paging.filter((name) => names.includes(name)),
  ]);
}

/**
 * Letta's paging contract, shared by every list: rows ordered by `created_at` then `id`;
 * `after` / `before` are row ids and select what comes after / before that row in the requested
 * order, so a client pages forward with `after=<last id>` until an empty page.
 */
export interface PageQuery {
  limit?: number;
  order?: 'asc' | 'desc';
  order_by?: 'created_at';
  after?: string;
  before?: string;
}

/** A paging cursor (`after` / `before`) that names no row. */
export class UnknownCursorError extends DomainError {
  constructor(field: 'after' | 'before', id: string) {
    super('invalid', `${field} must be the id of an existing row of this list; ${id} is not`);
  }
}

/**
 * Orders, limits and applies the cursors of `page` to a query over a table with `created_at` and `id`.
 * `visible`: what the asker may see (their projects); it limits the rows and the cursors alike, so a
 * cursor naming a row they may not see is refused exactly as one naming no row.
 */
export async function applyCursorPage<T extends ObjectLiteral>(
  builder: SelectQueryBuilder<T>,
  page: PageQuery,
  visible: RowCondition | null = null,
): Promise<SelectQueryBuilder<T>> {
  const alias = builder.alias;
  if (visible) builder.andWhere(visible.sql, visible.parameters);
  const descending = (page.order ?? 'desc') === 'desc';
  const direction = descending ? 'DESC' : 'ASC';
  builder
    .orderBy(`${alias}.created_at`, direction)
    .addOrderBy(`${alias}.id`, direction)
    .limit(page.limit ?? DEFAULT_PAGE_SIZE);
  // "after" means later in the requested order, so its comparison flips with the order.
  if (page.after) await whereBeyond(builder, 'after', page.after, descending ? '<' : '>', visible);
  if (page.before)
    await whereBeyond(builder, 'before', page.before, descending ? '>' : '<', visible);
  return builder;
}

async function whereBeyond<T extends ObjectLiteral>(
  builder: SelectQueryBuilder<T>,
  field: 'after' | 'before',
  cursorId: string,
  comparison: '<' | '>',
  visible: RowCondition | null,
): Promise<void> {
  const alias = builder.alias;
  const lookup = builder.connection
    .createQueryBuilder()
    .select(`${alias}.created_at`, 'created_at')
    .from(builder.expressionMap.mainAlias!.target, alias)
    .where(`${alias}.id = :cursorId`, { cursorId });
  if (visible) lookup.andWhere(visible.sql, visible.parameters);
  const cursor = await lookup.getRawOne<{ created_at: string }>();
  if (!cursor) throw new UnknownCursorError(field, cursorId);
  const at = `${field}CreatedAt`;
  const id = `${field}Id`;
  builder.andWhere(
    new Brackets((where) =>
      where
        .where(`${alias}.created_at ${comparison} :${at}`)
        .orWhere(`${alias}.created_at = :${at} AND ${alias}.id ${comparison} :${id}`),
    ),
    { [at]: cursor.created_at, [id]: cursorId },
  );
}
