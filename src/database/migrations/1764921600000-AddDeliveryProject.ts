import { MigrationInterface, QueryRunner, TableIndex } from 'typeorm';

/**
 * Keys bound to projects (SPEC §10): each delivery carries its step's `project_id`, so the webhook
 * module filters deliveries by project without reading the steps table (SPEC §1). Existing rows
 * take it from their step (one UPDATE; a step's project never changes). Indexes serve the lists a
 * bound key reads, newest first within its projects: deliveries and steps by project, then
 * `created_at`, `id` (the paging order).
 */
export class AddDeliveryProject1764921600000 implements MigrationInterface {
  name = 'AddDeliveryProject1764921600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE webhook_deliveries ADD COLUMN project_id varchar');
    await queryRunner.query(
      `UPDATE webhook_deliveries
          SET project_id = (SELECT steps.project_id FROM steps
                             WHERE steps.id = webhook_deliveries.step_id)`,
    );
    await queryRunner.createIndex(
      'webhook_deliveries',
      new TableIndex({
        name: 'idx_deliveries_project_created_at_id',
        columnNames: ['project_id', 'created_at', 'id'],
      }),
    );
    await queryRunner.createIndex(
      'steps',
      new TableIndex({
        name: 'idx_steps_project_created_at_id',
        columnNames: ['project_id', 'created_at', 'id'],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('steps', 'idx_steps_project_created_at_id');
    await queryRunner.dropIndex('webhook_deliveries', 'idx_deliveries_project_created_at_id');
    await queryRunner.dropColumn('webhook_deliveries', 'project_id');
  }
}
