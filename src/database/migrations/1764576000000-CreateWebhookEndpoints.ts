import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/**
 * Endpoints (SPEC §9): the receivers managed through the API, a one-row revision that every change
 * bumps (how other processes notice a change without reading every endpoint), and `endpoint_id`
 * on deliveries — every existing delivery was the environment endpoint's (`env`).
 */
export class CreateWebhookEndpoints1764576000000 implements MigrationInterface {
  name = 'CreateWebhookEndpoints1764576000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'webhook_endpoints',
        columns: [
          { name: 'id', type: 'varchar', length: '40', isPrimary: true },
          { name: 'url', type: 'text' },
          { name: 'description', type: 'text', isNullable: true },
          { name: 'filter', type: 'text', isNullable: true },
          { name: 'payload', type: 'varchar', length: '16' },
          { name: 'headers', type: 'text' },
          { name: 'secrets', type: 'text' },
          { name: 'disabled', type: 'boolean', default: false },
          { name: 'disabled_reason', type: 'varchar', length: '16', isNullable: true },
          { name: 'failing_since', type: 'varchar', length: '24', isNullable: true },
          { name: 'failed_attempts', type: 'integer', default: 0 },
          { name: 'created_at', type: 'varchar', length: '24' },
          { name: 'updated_at', type: 'varchar', length: '24' },
        ],
        indices: [{ name: 'idx_endpoints_created_at_id', columnNames: ['created_at', 'id'] }],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'webhook_endpoint_revision',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true },
          { name: 'revision', type: 'integer' },
        ],
      }),
    );
    await queryRunner.query('INSERT INTO webhook_endpoint_revision (id, revision) VALUES (1, 0)');
    await queryRunner.query(
      "ALTER TABLE webhook_deliveries ADD COLUMN endpoint_id varchar(40) NOT NULL DEFAULT 'env'",
    );
    await queryRunner.createIndex(
      'webhook_deliveries',
      new TableIndex({
        name: 'idx_deliveries_endpoint_status',
        columnNames: ['endpoint_id', 'status', 'created_at'],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('webhook_deliveries', 'idx_deliveries_endpoint_status');
    await queryRunner.dropColumn('webhook_deliveries', 'endpoint_id');
    await queryRunner.dropTable('webhook_endpoint_revision');
    await queryRunner.dropTable('webhook_endpoints');
  }
}
