import { MigrationInterface, QueryRunner, TableIndex } from 'typeorm';

/** The delivery summary counts attempts per minute over the last hour: an index on their start. */
export class IndexAttemptsStartedAt1764489600000 implements MigrationInterface {
  name = 'IndexAttemptsStartedAt1764489600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createIndex(
      'webhook_delivery_attempts',
      new TableIndex({ name: 'idx_attempts_started_at', columnNames: ['started_at'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('webhook_delivery_attempts', 'idx_attempts_started_at');
  }
}
