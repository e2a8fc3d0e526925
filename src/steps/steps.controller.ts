import { Body, Controller, Get, HttpCode, Param, Patch, Post, Put, Query } from '@nestjs/common';
import { CancelStepDto, StepErrorDto, StepSuccessDto } from './dto/complete-step.dto.js';
import { CreateStepDto } from './dto/create-step.dto.js';
import { StepFeedbackDto } from './dto/feedback.dto.js';
import { ListStepsQuery } from './dto/list-steps.query.js';
import { StepMetricsDto } from './dto/step-metrics.dto.js';
import { ParseStepIdPipe } from './step-id.js';
import { presentStep, presentStepMetrics, StepJson, StepMetricsJson } from './step.presenter.js';
import { StepsService } from './steps.service.js';

@Controller('v1/steps')
export class StepsController {
  constructor(private readonly steps: StepsService) {}

  @Post()
  async create(@Body() dto: CreateStepDto): Promise<StepJson> {
    return presentStep(await this.steps.create(dto));
  }

  @Get()
  async list(@Query() query: ListStepsQuery): Promise<StepJson[]> {
    return (await this.steps.list(query)).map(presentStep);
  }

  @Get(':step_id')
  async findOne(@Param('step_id', ParseStepIdPipe) stepId: string): Promise<StepJson> {
    return presentStep(await this.steps.findOne(stepId));
  }

  @Post(':step_id/success')
  @HttpCode(200)
  async markSucceeded(
    @Param('step_id', ParseStepIdPipe) stepId: string,
    @Body() dto: StepSuccessDto,
  ): Promise<StepJson> {
    return presentStep(await this.steps.markSucceeded(stepId, dto));
  }

  @Post(':step_id/error')
  @HttpCode(200)
  async markFailed(
    @Param('step_id', ParseStepIdPipe) stepId: string,
    @Body() dto: StepErrorDto,
  ): Promise<StepJson> {
    return presentStep(await this.steps.markFailed(stepId, dto));
  }

  @Post(':step_id/cancel')
  @HttpCode(200)
  async markCancelled(
    @Param('step_id', ParseStepIdPipe) stepId: string,
    @Body() dto: CancelStepDto,
  ): Promise<StepJson> {
    return presentStep(await this.steps.markCancelled(stepId, dto));
  }

  @Patch(':step_id/feedback')
  async recordFeedback(
    @Param('step_id', ParseStepIdPipe) stepId: string,
    @Body() dto: StepFeedbackDto,
  ): Promise<StepJson> {
    return presentStep(await this.steps.recordFeedback(stepId, dto));
  }

  @Put(':step_id/metrics')
  async recordMetrics(
    @Param('step_id', ParseStepIdPipe) stepId: string,
    @Body() dto: StepMetricsDto,
  ): Promise<StepMetricsJson> {
    return presentStepMetrics(await this.steps.recordMetrics(stepId, dto));
  }

  @Get(':step_id/metrics')
  async findMetrics(@Param('step_id', ParseStepIdPipe) stepId: string): Promise<StepMetricsJson> {
    return presentStepMetrics(await this.steps.findMetrics(stepId));
  }
}
