import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { Feedback, StepStatus, StopReason } from '../step-status.js';

export interface StepErrorData {
  message: string;
  traceback: string | null;
  details: object | null;
}

/**
 * One agent step. Timestamps are ISO-8601 UTC strings with milliseconds: fixed width, so they sort
 * and compare as text identically on SQLite and PostgreSQL.
 */
@Entity({ name: 'steps' })
export class Step {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id: string;

  @Column({ type: 'varchar', length: 16 })
  status: StepStatus;

  @Column({ name: 'agent_id', type: 'varchar', nullable: true })
  agentId: string | null;

  @Column({ name: 'run_id', type: 'varchar', nullable: true })
  runId: string | null;

  @Column({ name: 'project_id', type: 'varchar', nullable: true })
  projectId: string | null;

  @Column({ type: 'varchar', nullable: true })
  origin: string | null;

  @Column({ name: 'provider_name', type: 'varchar', nullable: true })
  providerName: string | null;

  @Column({ name: 'provider_category', type: 'varchar', nullable: true })
  providerCategory: string | null;

  @Column({ type: 'varchar', nullable: true })
  model: string | null;

  @Column({ name: 'model_endpoint', type: 'varchar', nullable: true })
  modelEndpoint: string | null;

  @Column({ name: 'context_window_limit', type: 'integer', nullable: true })
  contextWindowLimit: number | null;

  @Column({ name: 'trace_id', type: 'varchar', nullable: true })
  traceId: string | null;

  @Column({ name: 'request_id', type: 'varchar', nullable: true })
  requestId: string | null;

  @Column({ type: 'simple-json' })
  tags: string[];

  @Column({ name: 'prompt_tokens', type: 'integer', default: 0 })
  promptTokens: number;

  @Column({ name: 'completion_tokens', type: 'integer', default: 0 })
  completionTokens: number;

  @Column({ name: 'total_tokens', type: 'integer', default: 0 })
  totalTokens: number;

  @Column({ name: 'cached_input_tokens', type: 'integer', nullable: true })
  cachedInputTokens: number | null;

  @Column({ name: 'cache_write_tokens', type: 'integer', nullable: true })
  cacheWriteTokens: number | null;

  @Column({ name: 'reasoning_tokens', type: 'integer', nullable: true })
  reasoningTokens: number | null;

  @Column({ name: 'prompt_tokens_details', type: 'simple-json', nullable: true })
  promptTokensDetails: object | null;

  @Column({ name: 'completion_tokens_details', type: 'simple-json', nullable: true })
  completionTokensDetails: object | null;

  @Column({ name: 'stop_reason', type: 'varchar', length: 64, nullable: true })
  stopReason: StopReason | null;

  @Column({ name: 'error_type', type: 'varchar', nullable: true })
  errorType: string | null;

  @Column({ name: 'error_data', type: 'simple-json', nullable: true })
  errorData: StepErrorData | null;

  @Column({ type: 'varchar', length: 16, nullable: true })
  feedback: Feedback | null;

  @Column({ name: 'created_at', type: 'varchar', length: 24 })
  createdAt: string;

  @Column({ name: 'updated_at', type: 'varchar', length: 24 })
  updatedAt: string;

  @Column({ name: 'completed_at', type: 'varchar', length: 24, nullable: true })
  completedAt: string | null;
}
