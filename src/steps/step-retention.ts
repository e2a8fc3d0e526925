import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { RetentionConfig } from '../config/retention.config.js';
import { queryRows } from '../database/raw-sql.js';
import { expiredRows, RetentionCursor, RetentionSweeper } from '../database/retention.js';
import type { RetentionRule } from '../database/retention.js';
import { TransactionalEvents } from '../database/transactional-events.js';
import { STEPS_EXPIRING, StepsExpiringEvent } from './events/steps-expiring.event.js';
import { RETENTION_CONFIG } from '../config/stephook-config.module.js';

/**
 * STEP_RETENTION: terminal steps created longer ago than this are deleted with their metrics and
 * finished deliveries (the foreign keys cascade), except those another module keeps
 * (`STEPS_EXPIRING`). A pending step is never deleted: its terminal call is still to come.
 */
@Injectable()
export class StepRetention implements RetentionRule, OnModuleInit {
  readonly key = 'steps';
  readonly name = 'steps';
  readonly maxAgeMs: number;

  constructor(
    @Inject(RETENTION_CONFIG) config: RetentionConfig,
    private readonly sweeper: RetentionSweeper,
    private readonly events: TransactionalEvents,
  ) {
    this.maxAgeMs = config.stepsMs ?? Infinity;
  }

  onModuleInit(): void {
    if (Number.isFinite(this.maxAgeMs)) this.sweeper.add(this);
  }

  async deleteBatch(
    manager: EntityManager,
    cutoff: string,
    cursor: RetentionCursor | null,
    limit: number,
  ): Promise<{ deleted: number; cursor: RetentionCursor | null }> {
    // `status` is read in the same statement that locks the row (PostgreSQL): a transition that
    // commits first is seen, one that comes after waits for this transaction.
    const expired = await expiredRows(
      manager,
      'steps',
      "status <> 'pending'",
      {},
      cutoff,
      cursor,
      limit,
    );
    if (expired.ids.length === 0) return { deleted: 0, cursor: expired.cursor };
    const event = new StepsExpiringEvent(expired.ids);
    await this.events.publish(STEPS_EXPIRING, event, manager);
    const ids = expired.ids.filter((id) => !event.keep.has(id));
    if (ids.length === 0) return { deleted: 0, cursor: expired.cursor };
    const deleted = await queryRows(
      manager,
      'DELETE FROM steps WHERE id IN (:...ids) RETURNING id',
      {
        ids,
      },
    );
    return { deleted: deleted.length, cursor: expired.cursor };
  }
}
