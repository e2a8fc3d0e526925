import { Body, Controller, Get, HttpCode, Param, Patch, Post, Put, Query } from '@nestjs/common';
import { Scoped } from '../auth/access.js';
import { StepMetricsSchema } from './dto/step-metrics.dto.js';
import type { StepMetricsDto } from './dto/step-metrics.dto.js';
import { ListStepsQuerySchema } from './dto/list-steps.query.js';
import type { ListStepsQuery } from './dto/list-steps.query.js';
import { StepFeedbackSchema } from './dto/feedback.dto.js';
import type { StepFeedbackDto } from './dto/feedback.dto.js';
import { CreateStepSchema } from './dto/create-step.dto.js';
import type { CreateStepDto } from './dto/create-step.dto.js';
import { CancelStepSchema, StepErrorSchema, StepSuccessSchema } from './dto/complete-step.dto.js';
import type { CancelStepDto, StepErrorDto, StepSuccessDto } from './dto/complete-step.dto.js';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { ApiBodyErrors, ApiErrors } from '../common/api-docs.js';
import { ApiJsonBody, ApiQueryOf, BodyPipe, QueryPipe } from '../common/schema-pipe.js';
import { ParseStepIdPipe, STEP_ID_PATTERN } from './step-id.js';
import { StepMetricsView, StepView } from './dto/step.view.js';
import { answerOf, listOf } from '../common/response-schema.js';
import { presentStep, presentStepMetrics, StepJson, StepMetricsJson } from './step.presenter.js';
import { StepsService } from './steps.service.js';
import { CurrentPrincipal } from '../auth/principal.js';
import type { Principal } from '../auth/principal.js';

const StepIdParam = () =>
  ApiParam({
    name: 'step_id',
    description: 'step-<uuid v4>',
    schema: { type: 'string', pattern: STEP_ID_PATTERN.source },
    example: 'step-3f1d2c4b-5a6e-4f70-8b9c-0d1e2f3a4b5c',
  });

const TERMINAL_NOTE =
  'Exactly once: from pending, 200 with the updated step and one step.completed (one webhook). ' +
  'The same call again: 200, the step unchanged, nothing sent. A different terminal status: 409.';

@ApiTags('steps')
@ApiBearerAuth()
@Controller('v1/steps')
export class StepsController {
  constructor(private readonly steps: StepsService) {}

  @Post()
  @Scoped('steps:write')
  @ApiJsonBody(CreateStepSchema)
  @ApiOperation({ summary: 'Record a new step (always pending)' })
  @ApiCreatedResponse(answerOf(StepView))
  @ApiBodyErrors(409)
  async createStep(
    @Body(new BodyPipe(CreateStepSchema)) dto: CreateStepDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<StepJson> {
    return presentStep(await this.steps.create(dto, principal.projectIds));
  }

  @Get()
  @Scoped('steps:read')
  @ApiQueryOf(ListStepsQuerySchema)
  @ApiOperation({ summary: 'List steps: filters and cursor paging (also at /v1/steps/)' })
  @ApiOkResponse(listOf(StepView))
  @ApiErrors(400)
  async listSteps(
    @Query(new QueryPipe(ListStepsQuerySchema)) query: ListStepsQuery,
    @CurrentPrincipal() principal: Principal,
  ): Promise<StepJson[]> {
    return (await this.steps.list(query, principal.projectIds)).map(presentStep);
  }

  @Get(':step_id')
  @Scoped('steps:read')
  @ApiOperation({ summary: 'Get one step' })
  @StepIdParam()
  @ApiOkResponse(answerOf(StepView))
  @ApiErrors(400, 404)
  async getStep(
    @Param('step_id', ParseStepIdPipe) stepId: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<StepJson> {
    return presentStep(await this.steps.findOne(stepId, principal.projectIds));
  }

  @Post(':step_id/success')
  @Scoped('steps:write')
  @HttpCode(200)
  @ApiJsonBody(StepSuccessSchema)
  @ApiOperation({ summary: 'Mark the step successful', description: TERMINAL_NOTE })
  @StepIdParam()
  @ApiOkResponse(answerOf(StepView))
  @ApiBodyErrors(404, 409)
  async completeStepSuccess(
    @Param('step_id', ParseStepIdPipe) stepId: string,
    @Body(new BodyPipe(StepSuccessSchema)) dto: StepSuccessDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<StepJson> {
    return presentStep(await this.steps.markSucceeded(stepId, dto, principal.projectIds));
  }

  @Post(':step_id/error')
  @Scoped('steps:write')
  @HttpCode(200)
  @ApiJsonBody(StepErrorSchema)
  @ApiOperation({ summary: 'Mark the step failed', description: TERMINAL_NOTE })
  @StepIdParam()
  @ApiOkResponse(answerOf(StepView))
  @ApiBodyErrors(404, 409)
  async completeStepError(
    @Param('step_id', ParseStepIdPipe) stepId: string,
    @Body(new BodyPipe(StepErrorSchema)) dto: StepErrorDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<StepJson> {
    return presentStep(await this.steps.markFailed(stepId, dto, principal.projectIds));
  }

  @Post(':step_id/cancel')
  @Scoped('steps:write')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Mark the step cancelled (an empty body is fine)',
    description: TERMINAL_NOTE,
  })
  @ApiJsonBody(CancelStepSchema, false)
  @StepIdParam()
  @ApiOkResponse(answerOf(StepView))
  @ApiBodyErrors(404, 409)
  async cancelStep(
    @Param('step_id', ParseStepIdPipe) stepId: string,
    @Body(new BodyPipe(CancelStepSchema)) dto: CancelStepDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<StepJson> {
    return presentStep(await this.steps.markCancelled(stepId, dto, principal.projectIds));
  }

  @Patch(':step_id/feedback')
  @Scoped('steps:write')
  @ApiJsonBody(StepFeedbackSchema)
  @ApiOperation({ summary: 'Set or clear feedback, and optionally replace tags' })
  @StepIdParam()
  @ApiOkResponse(answerOf(StepView))
  @ApiBodyErrors(404)
  async setStepFeedback(
    @Param('step_id', ParseStepIdPipe) stepId: string,
    @Body(new BodyPipe(StepFeedbackSchema)) dto: StepFeedbackDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<StepJson> {
    return presentStep(await this.steps.recordFeedback(stepId, dto, principal.projectIds));
  }

  @Put(':step_id/metrics')
  @Scoped('steps:write')
  @ApiJsonBody(StepMetricsSchema)
  @ApiOperation({ summary: 'Record timing metrics; fields left out keep their value' })
  @StepIdParam()
  @ApiOkResponse(answerOf(StepMetricsView))
  @ApiBodyErrors(404)
  async putStepMetrics(
    @Param('step_id', ParseStepIdPipe) stepId: string,
    @Body(new BodyPipe(StepMetricsSchema)) dto: StepMetricsDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<StepMetricsJson> {
    return presentStepMetrics(await this.steps.recordMetrics(stepId, dto, principal.projectIds));
  }

  @Get(':step_id/metrics')
  @Scoped('steps:read')
  @ApiOperation({ summary: "Read the step's metrics" })
  @StepIdParam()
  @ApiOkResponse(answerOf(StepMetricsView))
  @ApiErrors(400, 404)
  async getStepMetrics(
    @Param('step_id', ParseStepIdPipe) stepId: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<StepMetricsJson> {
    return presentStepMetrics(await this.steps.findMetrics(stepId, principal.projectIds));
  }
}
