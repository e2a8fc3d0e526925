import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { StepMetrics } from './entities/step-metrics.entity.js';
import { Step } from './entities/step.entity.js';
import { RunsController } from './runs.controller.js';
import { StepsController } from './steps.controller.js';
import { StepRetention } from './step-retention.js';
import { StepsService } from './steps.service.js';

/** Records steps and emits `step.completed` after a terminal commit. Knows nothing of webhooks. */
@Module({
  imports: [TypeOrmModule.forFeature([Step, StepMetrics])],
  controllers: [StepsController, RunsController],
  providers: [StepsService, StepRetention],
})
export class StepsModule {}
