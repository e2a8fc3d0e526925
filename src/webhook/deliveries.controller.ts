import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  PipeTransform,
  Post,
  Query,
} from '@nestjs/common';
import { DeliveriesService } from './deliveries.service.js';
import { DeliveryStore, DELIVERY_ID_PATTERN } from './delivery-store.js';
import {
  DeliveryJson,
  DeliveryWithAttemptsJson,
  presentDelivery,
  presentDeliveryWithAttempts,
} from './delivery.presenter.js';
import { ListDeliveriesQuery } from './dto/list-deliveries.query.js';
import { RecoverDeliveriesDto } from './dto/recover-deliveries.dto.js';

class ParseDeliveryIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!DELIVERY_ID_PATTERN.test(value)) {
      throw new BadRequestException('id must be a delivery id ("msg_" followed by 32 hex digits)');
    }
    return value;
  }
}

@Controller('v1/webhook-deliveries')
export class DeliveriesController {
  constructor(
    private readonly deliveries: DeliveriesService,
    private readonly store: DeliveryStore,
  ) {}

  @Get()
  async list(@Query() query: ListDeliveriesQuery): Promise<DeliveryJson[]> {
    return (await this.store.list(query)).map(presentDelivery);
  }

  @Get(':id')
  async findOne(@Param('id', ParseDeliveryIdPipe) id: string): Promise<DeliveryWithAttemptsJson> {
    return presentDeliveryWithAttempts(await this.deliveries.findOne(id));
  }

  @Post('recover')
  @HttpCode(202)
  async recover(@Body() dto: RecoverDeliveriesDto): Promise<{ requeued: number }> {
    return { requeued: await this.deliveries.recoverFailedSince(dto.since) };
  }

  @Post(':id/retry')
  @HttpCode(202)
  async retry(@Param('id', ParseDeliveryIdPipe) id: string): Promise<DeliveryWithAttemptsJson> {
    return presentDeliveryWithAttempts(await this.deliveries.retryNow(id));
  }
}

@Controller('v1/steps')
export class StepDeliveriesController {
  constructor(private readonly store: DeliveryStore) {}

  /** Every delivery of the step with every attempt; an empty list for a step that has none. */
  @Get(':step_id/deliveries')
  async listForStep(@Param('step_id') stepId: string): Promise<DeliveryWithAttemptsJson[]> {
    return (await this.store.findForStep(stepId)).map(presentDeliveryWithAttempts);
  }
}
