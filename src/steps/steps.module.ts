import { Module } from '@nestjs/common';
import { RunsController } from './runs.controller.js';
import { StepsController } from './steps.controller.js';
import { StepsService } from './steps.service.js';

/** Records steps and emits `step.completed` after a terminal commit. Knows nothing of webhooks. */
@Module({
  controllers: [StepsController, RunsController],
  providers: [StepsService],
})
export class StepsModule {}
