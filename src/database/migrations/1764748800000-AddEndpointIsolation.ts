import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/**
 * Isolation (SPEC §9): each API endpoint's limits (`max_in_flight`, `rate_limit`), a row per
 * endpoint — the environment's included — for what delivering processes share about it (the rate
 * limit's next free time and the circuit breaker), and an index that finds one endpoint's due
 * deliveries oldest first, which the fair claim reads endpoint by endpoint.
 */
export class AddEndpointIsolation1764748800000 implements MigrationInterface {
  name = 'AddEndpointIsolation1764748800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE webhook_endpoints ADD COLUMN max_in_flight integer NOT NULL DEFAULT 64',
    );
    await queryRunner.query('ALTER TABLE webhook_endpoints ADD COLUMN rate_limit double precision');
    await queryRunner.createTable(
      new Table({
        name: 'webhook_endpoint_throttles',
        columns: [
          { name: 'endpoint_id', type: 'varchar', length: '40', isPrimary: true },
          // The rate limit's theoretical arrival time (GCRA), ms since the epoch.
          { name: 'rate_next_at', type: 'bigint', default: 0 },
          { name: 'unreachable_attempts', type: 'integer', default: 0 },
          { name: 'breaker_opened_at', type: 'varchar', length: '24', isNullable: true },
          // While the breaker is open: when the next probe may start (ms since the epoch).
          { name: 'probe_at', type: 'bigint', isNullable: true },
        ],
      }),
    );
    await queryRunner.createIndex(
      'webhook_deliveries',
      new TableIndex({
        name: 'idx_deliveries_endpoint_due',
        columnNames: ['endpoint_id', 'status', 'next_attempt_at'],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('webhook_deliveries', 'idx_deliveries_endpoint_due');
    await queryRunner.dropTable('webhook_endpoint_throttles');
    await queryRunner.dropColumn('webhook_endpoints', 'rate_limit');
    await queryRunner.dropColumn('webhook_endpoints', 'max_in_flight');
  }
}
