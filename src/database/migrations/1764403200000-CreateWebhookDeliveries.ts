import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/** The delivery outbox and its attempt log. Table API only, so it runs on SQLite and PostgreSQL. */
export class CreateWebhookDeliveries1764403200000 implements MigrationInterface {
  name = 'CreateWebhookDeliveries1764403200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'webhook_deliveries',
        columns: [
          { name: 'id', type: 'varchar', length: '40', isPrimary: true },
          { name: 'step_id', type: 'varchar', length: '64' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'payload', type: 'text' },
          { name: 'attempt_count', type: 'integer', default: 0 },
          { name: 'schedule_position', type: 'integer', default: 0 },
          { name: 'next_attempt_at', type: 'varchar', length: '24', isNullable: true },
          { name: 'lease_until', type: 'varchar', length: '24', isNullable: true },
          { name: 'last_outcome', type: 'varchar', length: '16', isNullable: true },
          { name: 'last_status_code', type: 'integer', isNullable: true },
          { name: 'last_error', type: 'text', isNullable: true },
          { name: 'created_at', type: 'varchar', length: '24' },
          { name: 'updated_at', type: 'varchar', length: '24' },
          { name: 'delivered_at', type: 'varchar', length: '24', isNullable: true },
        ],
        indices: [
          // The dispatcher's question: which pending deliveries are due?
          {
            name: 'idx_deliveries_status_next_attempt',
            columnNames: ['status', 'next_attempt_at'],
          },
          { name: 'idx_deliveries_step_id', columnNames: ['step_id'] },
          { name: 'idx_deliveries_created_at_id', columnNames: ['created_at', 'id'] },
        ],
        foreignKeys: [
          {
            name: 'fk_deliveries_step',
            columnNames: ['step_id'],
            referencedTableName: 'steps',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'webhook_delivery_attempts',
        columns: [
          { name: 'delivery_id', type: 'varchar', length: '40', isPrimary: true },
          { name: 'number', type: 'integer', isPrimary: true },
          { name: 'started_at', type: 'varchar', length: '24' },
          { name: 'duration_ms', type: 'integer' },
          { name: 'status_code', type: 'integer', isNullable: true },
          { name: 'outcome', type: 'varchar', length: '16' },
          { name: 'error', type: 'text', isNullable: true },
          { name: 'response_body', type: 'text', isNullable: true },
        ],
        foreignKeys: [
          {
            name: 'fk_attempts_delivery',
            columnNames: ['delivery_id'],
            referencedTableName: 'webhook_deliveries',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('webhook_delivery_attempts');
    await queryRunner.dropTable('webhook_deliveries');
  }
}
