import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `trace_parent`: the W3C trace context a delivery's attempt spans continue (null when tracing was
 * off as it was written). A plain ALTER TABLE on both dialects: nothing existing is copied.
 */
export class AddDeliveryTraceParent1764662400000 implements MigrationInterface {
  name = 'AddDeliveryTraceParent1764662400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE webhook_deliveries ADD COLUMN trace_parent varchar(55)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('webhook_deliveries', 'trace_parent');
  }
}
