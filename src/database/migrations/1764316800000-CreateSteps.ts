import { MigrationInterface, QueryRunner, Table, TableColumnOptions } from 'typeorm';

const text = (name: string, extra: Partial<TableColumnOptions> = {}): TableColumnOptions => ({
  name,
  type: 'varchar',
  isNullable: true,
  ...extra,
});
const integer = (name: string, extra: Partial<TableColumnOptions> = {}): TableColumnOptions => ({
  name,
  type: 'integer',
  isNullable: true,
  ...extra,
});
const timestamp = (name: string, isNullable = false): TableColumnOptions =>
  text(name, { length: '24', isNullable });

/** Steps and their metrics rows. Written with the Table API so it runs unchanged on SQLite and PostgreSQL. */
export class CreateSteps1764316800000 implements MigrationInterface {
  name = 'CreateSteps1764316800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'steps',
        columns: [
          text('id', { length: '64', isPrimary: true, isNullable: false }),
          text('status', { length: '16', isNullable: false }),
          text('agent_id'),
          text('run_id'),
          text('project_id'),
          text('origin'),
          text('provider_name'),
          text('provider_category'),
          text('model'),
          text('model_endpoint'),
          integer('context_window_limit'),
          text('trace_id'),
          text('request_id'),
          { name: 'tags', type: 'text', isNullable: false },
          integer('prompt_tokens', { isNullable: false, default: 0 }),
          integer('completion_tokens', { isNullable: false, default: 0 }),
          integer('total_tokens', { isNullable: false, default: 0 }),
          integer('cached_input_tokens'),
          integer('cache_write_tokens'),
          integer('reasoning_tokens'),
          { name: 'prompt_tokens_details', type: 'text', isNullable: true },
          { name: 'completion_tokens_details', type: 'text', isNullable: true },
          text('stop_reason', { length: '64' }),
          text('error_type'),
          { name: 'error_data', type: 'text', isNullable: true },
          text('feedback', { length: '16' }),
          timestamp('created_at'),
          timestamp('updated_at'),
          timestamp('completed_at', true),
        ],
        indices: [
          { name: 'idx_steps_created_at_id', columnNames: ['created_at', 'id'] },
          { name: 'idx_steps_run_id_created_at', columnNames: ['run_id', 'created_at'] },
          { name: 'idx_steps_agent_id_created_at', columnNames: ['agent_id', 'created_at'] },
          { name: 'idx_steps_status', columnNames: ['status'] },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'step_metrics',
        columns: [
          text('id', { length: '64', isPrimary: true, isNullable: false }),
          text('step_start_ns', { length: '20' }),
          text('llm_request_start_ns', { length: '20' }),
          text('llm_request_ns', { length: '20' }),
          text('tool_execution_ns', { length: '20' }),
          text('step_ns', { length: '20' }),
          timestamp('updated_at'),
        ],
        foreignKeys: [
          {
            name: 'fk_step_metrics_step',
            columnNames: ['id'],
            referencedTableName: 'steps',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('step_metrics');
    await queryRunner.dropTable('steps');
  }
}
