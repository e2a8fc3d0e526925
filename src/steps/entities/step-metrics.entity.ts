import { Column, Entity, PrimaryColumn } from 'typeorm';

export const NANOSECOND_FIELDS = [
  'stepStartNs',
  'llmRequestStartNs',
  'llmRequestNs',
  'toolExecutionNs',
  'stepNs',
] as const;
export type NanosecondField = (typeof NANOSECOND_FIELDS)[number];

/**
 * The timing row of a step (same id). Nanosecond counts are kept as decimal text: 64-bit values do
 * not survive a JavaScript number, and text round-trips them exactly on every driver.
 */
@Entity({ name: 'step_metrics' })
export class StepMetrics implements Record<NanosecondField, string | null> {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id: string;

  @Column({ name: 'step_start_ns', type: 'varchar', length: 20, nullable: true })
  stepStartNs: string | null;

  @Column({ name: 'llm_request_start_ns', type: 'varchar', length: 20, nullable: true })
  llmRequestStartNs: string | null;

  @Column({ name: 'llm_request_ns', type: 'varchar', length: 20, nullable: true })
  llmRequestNs: string | null;

  @Column({ name: 'tool_execution_ns', type: 'varchar', length: 20, nullable: true })
  toolExecutionNs: string | null;

  @Column({ name: 'step_ns', type: 'varchar', length: 20, nullable: true })
  stepNs: string | null;

  @Column({ name: 'updated_at', type: 'varchar', length: 24 })
  updatedAt: string;
}
