import { Controller, Get, Param, Query } from '@nestjs/common';
import { Scoped } from '../auth/access.js';
import { ListRunStepsQuerySchema } from './dto/list-steps.query.js';
import type { ListRunStepsQuery } from './dto/list-steps.query.js';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/api-docs.js';
import { ApiQueryOf, QueryPipe } from '../common/schema-pipe.js';
import { StepView } from './dto/step.view.js';
import { listOf } from '../common/response-schema.js';
import { presentStep, StepJson } from './step.presenter.js';
import { StepsService } from './steps.service.js';
import { CurrentPrincipal } from '../auth/principal.js';
import type { Principal } from '../auth/principal.js';

@ApiTags('steps')
@ApiBearerAuth()
@Controller('v1/runs')
export class RunsController {
  constructor(private readonly steps: StepsService) {}

  /** The run's steps, with the same filters and paging as GET /v1/steps. */
  @Get(':run_id/steps')
  @Scoped('steps:read')
  @ApiQueryOf(ListRunStepsQuerySchema)
  @ApiOperation({ summary: "List a run's steps, with the same filters and paging" })
  @ApiOkResponse(listOf(StepView))
  @ApiErrors(400)
  async listRunSteps(
    @Param('run_id') runId: string,
    @Query(new QueryPipe(ListRunStepsQuerySchema)) query: ListRunStepsQuery,
    @CurrentPrincipal() principal: Principal,
  ): Promise<StepJson[]> {
    return (await this.steps.list({ ...query, run_id: runId }, principal.projectIds)).map(
      presentStep,
    );
  }
}
