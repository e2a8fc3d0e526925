import { Inject, Injectable, Optional } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository, SelectQueryBuilder } from 'typeorm';
import { applyCursorPage } from '../common/cursor-page.js';
import { inScope, projectColumnCondition, requireWithinScope } from '../common/project-scope.js';
import type { ProjectScope } from '../common/project-scope.js';
import { TransactionRunner } from '../database/transaction-runner.js';
import { isUniqueViolation } from '../database/unique-violation.js';
import { inSpan } from '../tracing/tracing.js';
import type { StepErrorDto, StepSuccessDto, CancelStepDto } from './dto/complete-step.dto.js';
import type { CreateStepDto } from './dto/create-step.dto.js';
import type { StepFeedbackDto } from './dto/feedback.dto.js';
import type { ListStepsQuery } from './dto/list-steps.query.js';
import type { StepMetricsDto } from './dto/step-metrics.dto.js';
import type { UsageDto } from './dto/usage.dto.js';
import { StepMetrics } from './entities/step-metrics.entity.js';
import { Step } from './entities/step.entity.js';
import { STEP_COMPLETED, StepCompletedEvent } from './events/step-completed.event.js';
import { STEP_COMPLETION_OUTBOX } from './step-completion-outbox.js';
import type { StepCompletionOutbox } from './step-completion-outbox.js';
import { newStepId } from './step-id.js';
import { transitionStep } from './step-statements.js';
import type { TerminalChanges } from './step-statements.js';
import type { TerminalStepStatus } from './step-status.js';
import {
  StepAlreadyCompletedError,
  StepAlreadyExistsError,
  StepMetricsNotFoundError,
  StepNotFoundError,
} from './steps.errors.js';

type StepChanges = Partial<Omit<Step, 'id' | 'status' | 'createdAt' | 'completedAt'>>;

@Injectable()
export class StepsService {
  constructor(
    @InjectRepository(Step) private readonly steps: Repository<Step>,
    @InjectRepository(StepMetrics) private readonly stepMetrics: Repository<StepMetrics>,
    private readonly transactions: TransactionRunner,
    private readonly events: EventEmitter2,
    /** What commits with a transition (WebhookModule's outbox); absent when StepsModule runs alone. */
    @Optional()
    @Inject(STEP_COMPLETION_OUTBOX)
    private readonly completionOutbox: StepCompletionOutbox | null = null,
  ) {}

  /** `scope`: a key bound to projects creates steps of those projects only (project_id required). */
  async create(dto: CreateStepDto, scope: ProjectScope): Promise<Step> {
    requireWithinScope(scope, 'project_id', dto.project_id == null ? null : [dto.project_id]);
    const now = new Date().toISOString();
    const step = this.steps.create({
      id: dto.id ?? newStepId(),
      status: 'pending',
      agentId: dto.agent_id ?? null,
      runId: dto.run_id ?? null,
      projectId: dto.project_id ?? null,
      origin: dto.origin ?? null,
      providerName: dto.provider_name ?? null,
      providerCategory: dto.provider_category ?? null,
      model: dto.model ?? null,
      modelEndpoint: dto.model_endpoint ?? null,
      contextWindowLimit: dto.context_window_limit ?? null,
      traceId: dto.trace_id ?? null,
      requestId: dto.request_id ?? null,
      tags: dto.tags ?? [],
      promptTokens: 0,
      completionTokens: 0,
      totalTokens: 0,
      cachedInputTokens: null,
      cacheWriteTokens: null,
      reasoningTokens: null,
      promptTokensDetails: null,
      completionTokensDetails: null,
      ...usageColumns(dto),
      stopReason: null,
      errorType: null,
      errorData: null,
      feedback: null,
      createdAt: now,
      updatedAt: now,
      completedAt: null,
    });
    try {
      await this.transactions.run((manager) => manager.insert(Step, step));
    } catch (error) {
      if (isUniqueViolation(error)) throw new StepAlreadyExistsError(step.id);
      throw error;
    }
    return step;
  }

  /** A step outside `scope` is not found, exactly as one that does not exist. */
  async findOne(stepId: string, scope: ProjectScope): Promise<Step> {
    const step = await this.steps.findOneBy({ id: stepId });
    if (!step || !inScope(scope, step.projectId)) throw new StepNotFoundError(stepId);
    return step;
  }

  /** Steps within `scope` only: its rows, and its `after` / `before` cursors. */
  async list(query: ListStepsQuery, scope: ProjectScope): Promise<Step[]> {
    const builder = this.steps.createQueryBuilder('s');
    const equalities = {
      agent_id: query.agent_id,
      run_id: query.run_id,
      project_id: query.project_id,
      model: query.model,
      status: query.status,
      feedback: query.feedback,
    };
    for (const [column, value] of Object.entries(equalities)) {
      if (value !== undefined) builder.andWhere(`s.${column} = :${column}`, { [column]: value });
    }
    if (query.has_feedback !== undefined) {
      builder.andWhere(query.has_feedback ? 's.feedback IS NOT NULL' : 's.feedback IS NULL');
    }
    if (query.trace_ids?.length) {
      builder.andWhere('s.trace_id IN (:...traceIds)', { traceIds: query.trace_ids });
    }
    query.tags?.forEach((tag, index) => this.whereHasTag(builder, tag, `tag${index}`));
    if (query.start_date)
      builder.andWhere('s.created_at >= :startDate', { startDate: query.start_date });
    if (query.end_date) builder.andWhere('s.created_at <= :endDate', { endDate: query.end_date });
    return (
      await applyCursorPage(builder, query, projectColumnCondition('s.project_id', scope))
    ).getMany();
  }

  markSucceeded(stepId: string, dto: StepSuccessDto, scope: ProjectScope): Promise<Step> {
    return this.complete(
      stepId,
      'success',
      {
        ...usageColumns(dto.usage ?? {}),
        ...stopReasonColumn(dto),
      },
      scope,
      dto.metrics,
    );
  }

  markFailed(stepId: string, dto: StepErrorDto, scope: ProjectScope): Promise<Step> {
    return this.complete(
      stepId,
      'failed',
      {
        errorType: dto.error_type,
        errorData: {
          message: dto.error_message,
          traceback: dto.error_traceback ?? null,
          details: dto.error_details ?? null,
        },
        ...stopReasonColumn(dto),
      },
      scope,
    );
  }

  markCancelled(stepId: string, dto: CancelStepDto, scope: ProjectScope): Promise<Step> {
    return this.complete(stepId, 'cancelled', stopReasonColumn(dto), scope);
  }

  async recordFeedback(stepId: string, dto: StepFeedbackDto, scope: ProjectScope): Promise<Step> {
    return this.transactions.run(async (manager) => {
      await requireVisible(manager, stepId, scope);
      const changes: StepChanges = { feedback: dto.feedback, updatedAt: new Date().toISOString() };
      if (dto.tags != null) changes.tags = dto.tags;
      const { affected } = await manager.update(Step, { id: stepId }, changes);
      if (!affected) throw new StepNotFoundError(stepId);
      return manager.findOneByOrFail(Step, { id: stepId });
    });
  }

  async recordMetrics(
    stepId: string,
    dto: StepMetricsDto,
    scope: ProjectScope,
  ): Promise<StepMetrics> {
    return this.transactions.run(async (manager) => {
      if (!(await manager.existsBy(Step, { id: stepId }))) throw new StepNotFoundError(stepId);
      await requireVisible(manager, stepId, scope);
      await upsertMetrics(manager, stepId, dto);
      return manager.findOneByOrFail(StepMetrics, { id: stepId });
    });
  }

  async findMetrics(stepId: string, scope: ProjectScope): Promise<StepMetrics> {
    // A bound key learns nothing of another project's step, not even whether it has metrics.
    if (scope !== null) await this.findOne(stepId, scope);
    const metrics = await this.stepMetrics.findOneBy({ id: stepId });
    if (metrics) return metrics;
    await this.findOne(stepId, scope);
    throw new StepMetricsNotFoundError(stepId);
  }

  /**
   * Moves a step out of `pending`, exactly once. The guarded UPDATE is the arbiter: of any number of
   * concurrent calls, one changes the row. A repeat of the winning status is answered with the step
   * as it is; a different terminal status is a conflict. Inside the transaction the completion
   * outbox records what must commit with it (the webhook deliveries); after the commit
   * `step.completed` is emitted, for everything that reacts to it (the first webhook attempts).
   */
  private async complete(
    stepId: string,
    status: TerminalStepStatus,
    changes: TerminalChanges,
    scope: ProjectScope,
    metrics?: StepMetricsDto,
  ): Promise<Step> {
    // A step's project never changes after it is created, so this read cannot race the transition.
    if (scope !== null) await this.findOne(stepId, scope);
    const { step, event } = await inSpan(
      'step.complete',
      { 'stephook.step.id': stepId, 'stephook.step.status': status },
      () => this.transition(stepId, status, changes, metrics),
    );
    if (event) this.events.emit(STEP_COMPLETED, event);
    return step;
  }

  /** The guarded UPDATE and what commits with it; the event when this call made the transition. */
  private transition(
    stepId: string,
    status: TerminalStepStatus,
    changes: TerminalChanges,
    metrics?: StepMetricsDto,
  ): Promise<{ step: Step; event: StepCompletedEvent | null }> {
    // Terminal calls that arrive together commit together (each in its own savepoint).
    return this.transactions.runGrouped(async (manager) => {
      const now = new Date().toISOString();
      const current = await transitionStep(manager, stepId, status, changes, now);
      if (!current) {
        const existing = await manager.findOneBy(Step, { id: stepId });
        if (!existing) throw new StepNotFoundError(stepId);
        if (existing.status !== status)
          throw new StepAlreadyCompletedError(stepId, existing.status, status);
        return { step: existing, event: null };
      }
      if (metrics) await upsertMetrics(manager, stepId, metrics);
      // What must be recorded with the transition (the webhook deliveries) commits with it.
      const completed = StepCompletedEvent.fromStep(current);
      await this.completionOutbox?.recordCompletion(completed, manager);
      return { step: current, event: completed };
    });
  }

  private whereHasTag(builder: SelectQueryBuilder<Step>, tag: string, parameter: string): void {
    const condition =
      this.steps.manager.connection.options.type === 'postgres'
        ? `(s.tags::jsonb) @> jsonb_build_array(CAST(:${parameter} AS text))`
        : `EXISTS (SELECT 1 FROM json_each(s.tags) WHERE json_each.value = :${parameter})`;
    builder.andWhere(condition, { [parameter]: tag });
  }
}

function usageColumns(usage: UsageDto): StepChanges {
  const columns: StepChanges = {
    promptTokens: usage.prompt_tokens,
    completionTokens: usage.completion_tokens,
    totalTokens: usage.total_tokens,
    cachedInputTokens: usage.cached_input_tokens,
    cacheWriteTokens: usage.cache_write_tokens,
    reasoningTokens: usage.reasoning_tokens,
    promptTokensDetails: usage.prompt_tokens_details,
    completionTokensDetails: usage.completion_tokens_details,
  };
  return withoutNullish(columns);
}

function stopReasonColumn(dto: CancelStepDto): StepChanges {
  return dto.stop_reason === undefined ? {} : { stopReason: dto.stop_reason };
}

/**
 * In a change of one step: a step outside `scope` is not found, exactly as one that does not exist
 * (its project never changes after it is created).
 */
async function requireVisible(
  manager: EntityManager,
  stepId: string,
  scope: ProjectScope,
): Promise<void> {
  if (scope === null) return;
  const step = await manager.findOne(Step, {
    select: { id: true, projectId: true },
    where: { id: stepId },
  });
  if (!step || !inScope(scope, step.projectId)) throw new StepNotFoundError(stepId);
}

/** Records the given nanosecond fields; fields left out keep what an earlier call recorded. */
async function upsertMetrics(
  manager: EntityManager,
  stepId: string,
  dto: StepMetricsDto,
): Promise<void> {
  const values = withoutNullish({
    stepStartNs: dto.step_start_ns,
    llmRequestStartNs: dto.llm_request_start_ns,
    llmRequestNs: dto.llm_request_ns,
    toolExecutionNs: dto.tool_execution_ns,
    stepNs: dto.step_ns,
    updatedAt: new Date().toISOString(),
  });
  const columns = Object.keys(values).map(
    (property) =>
      manager.getRepository(StepMetrics).metadata.findColumnWithPropertyName(property)!
        .databaseName,
  );
  await manager
    .createQueryBuilder()
    .insert()
    .into(StepMetrics)
    .values({ id: stepId, ...values })
    .orUpdate(columns, ['id'])
    .execute();
}

/**
 * The fields a client gave. An optional field sent as null means the same as one left out (as in
 * Letta, whose optional fields default to None): the default on create, the value kept on update.
 */
function withoutNullish<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(object).filter(([, value]) => value != null),
  ) as Partial<T>;
}
