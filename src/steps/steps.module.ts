import { DynamicModule, Module } from '@nestjs/common';
import type { ModuleMetadata } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { StepMetrics } from './entities/step-metrics.entity.js';
import { Step } from './entities/step.entity.js';
import { RunsController } from './runs.controller.js';
import { StepsController } from './steps.controller.js';
import { StepRetention } from './step-retention.js';
import { StepsService } from './steps.service.js';

/**
 * Records steps and emits `step.completed` after a terminal commit. Knows nothing of webhooks: what
 * must commit with a transition comes through its port, StepCompletionOutbox, from the module the
 * app passes to `withCompletionOutbox` (WebhookModule). Imported alone, a transition records only
 * the step.
 */
@Module({
  imports: [TypeOrmModule.forFeature([Step, StepMetrics])],
  controllers: [StepsController, RunsController],
  providers: [StepsService, StepRetention],
})
export class StepsModule {
  /** With the module that provides STEP_COMPLETION_OUTBOX (`step-completion-outbox.ts`). */
  static withCompletionOutbox(
    provider: NonNullable<ModuleMetadata['imports']>[number],
  ): DynamicModule {
    return { module: StepsModule, imports: [provider] };
  }
}
