import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { Scoped } from '../../auth/access.js';
import { RecoverDeliveriesSchema } from './dto/recover-deliveries.dto.js';
import type { RecoverDeliveriesDto } from './dto/recover-deliveries.dto.js';
import { ListDeliveriesQuerySchema } from './dto/list-deliveries.query.js';
import type { ListDeliveriesQuery } from './dto/list-deliveries.query.js';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { ApiBodyErrors, ApiErrors } from '../../common/api-docs.js';
import { ApiJsonBody, ApiQueryOf, BodyPipe, QueryPipe } from '../../common/schema-pipe.js';
import { ParseIdPipe } from '../../common/id-format.js';
import { DeliveriesService } from './deliveries.service.js';
import { CurrentPrincipal } from '../../auth/principal.js';
import type { Principal } from '../../auth/principal.js';
import {
  DeliverySummaryView,
  DeliveryView,
  DeliveryWithAttemptsView,
  RecoverResultView,
} from './dto/delivery.view.js';
import type { DeliverySummaryJson, RecoverResultJson } from './dto/delivery.view.js';
import { answerOf, listOf } from '../../common/response-schema.js';
import { DELIVERY_ID } from '../delivery-id.js';
import { DeliveryReads } from './delivery-reads.js';
import {
  DeliveryJson,
  DeliveryWithAttemptsJson,
  presentDelivery,
  presentDeliveryWithAttempts,
} from './delivery.presenter.js';

/** The delivery `id` path parameter. */
const ParseDeliveryIdPipe = new ParseIdPipe(DELIVERY_ID, 'id');

const DeliveryIdParam = () =>
  ApiParam({
    name: 'id',
    description: 'The delivery id (its webhook-id)',
    schema: { type: 'string', pattern: DELIVERY_ID.pattern.source },
    example: 'msg_2b1e0c9d4f6a4e0f8a7b6c5d4e3f2a1b',
  });

@ApiTags('webhook deliveries')
@ApiBearerAuth()
@Controller('v1/webhook-deliveries')
export class DeliveriesController {
  constructor(
    private readonly deliveries: DeliveriesService,
    private readonly reads: DeliveryReads,
  ) {}

  @Get()
  @Scoped('deliveries:read')
  @ApiQueryOf(ListDeliveriesQuerySchema)
  @ApiOperation({
    summary: 'List deliveries, newest first; filter by status, step and endpoint, page like steps',
  })
  @ApiOkResponse(listOf(DeliveryView))
  @ApiErrors(400)
  async listDeliveries(
    @Query(new QueryPipe(ListDeliveriesQuerySchema)) query: ListDeliveriesQuery,
    @CurrentPrincipal() principal: Principal,
  ): Promise<DeliveryJson[]> {
    return (await this.reads.list(query, principal.projectIds)).map(presentDelivery);
  }

  @Get('summary')
  @Scoped('deliveries:read')
  @ApiOperation({
    summary: 'Deliveries at a glance: counts by state, oldest pending, attempts per minute (1 h)',
  })
  @ApiOkResponse(answerOf(DeliverySummaryView))
  @ApiErrors()
  getDeliverySummary(@CurrentPrincipal() principal: Principal): Promise<DeliverySummaryJson> {
    return this.deliveries.summary(principal.projectIds);
  }

  @Get(':id')
  @Scoped('deliveries:read')
  @ApiOperation({ summary: 'One delivery with every attempt' })
  @DeliveryIdParam()
  @ApiOkResponse(answerOf(DeliveryWithAttemptsView))
  @ApiErrors(400, 404)
  async getDelivery(
    @Param('id', ParseDeliveryIdPipe) id: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<DeliveryWithAttemptsJson> {
    return presentDeliveryWithAttempts(await this.deliveries.findOne(id, principal.projectIds));
  }

  @Post('recover')
  @Scoped('deliveries:write')
  @HttpCode(202)
  @ApiJsonBody(RecoverDeliveriesSchema)
  @ApiOperation({
    summary:
      'Put every failed delivery created since a time (of one endpoint, or all) back to pending',
  })
  @ApiAcceptedResponse(answerOf(RecoverResultView))
  @ApiBodyErrors()
  async recoverDeliveries(
    @Body(new BodyPipe(RecoverDeliveriesSchema)) dto: RecoverDeliveriesDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<RecoverResultJson> {
    return {
      requeued: await this.deliveries.recoverFailedSince(
        dto.since,
        dto.endpoint_id ?? undefined,
        principal.projectIds,
      ),
    };
  }

  @Post(':id/retry')
  @Scoped('deliveries:write')
  @HttpCode(202)
  @ApiOperation({
    summary: 'One more attempt now, whatever the state; answers before it runs',
    description:
      '409 when there is nothing to send to (its endpoint was deleted, or STEP_COMPLETE_WEBHOOK ' +
      'is unset for the environment endpoint) or its endpoint is disabled (held deliveries are ' +
      'sent once it is enabled).',
  })
  @DeliveryIdParam()
  @ApiAcceptedResponse(answerOf(DeliveryWithAttemptsView))
  @ApiErrors(400, 404, 409)
  async retryDelivery(
    @Param('id', ParseDeliveryIdPipe) id: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<DeliveryWithAttemptsJson> {
    return presentDeliveryWithAttempts(await this.deliveries.retryNow(id, principal.projectIds));
  }
}

@ApiTags('webhook deliveries')
@ApiBearerAuth()
@Controller('v1/steps')
export class StepDeliveriesController {
  constructor(private readonly reads: DeliveryReads) {}

  /** Every delivery of the step with every attempt; an empty list for a step that has none. */
  @Get(':step_id/deliveries')
  @Scoped('deliveries:read')
  @ApiOperation({ summary: "A step's webhook deliveries, each with every attempt" })
  @ApiOkResponse(listOf(DeliveryWithAttemptsView))
  @ApiErrors()
  async listStepDeliveries(
    @Param('step_id') stepId: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<DeliveryWithAttemptsJson[]> {
    return (await this.reads.findForStep(stepId, principal.projectIds)).map(
      presentDeliveryWithAttempts,
    );
  }
}
