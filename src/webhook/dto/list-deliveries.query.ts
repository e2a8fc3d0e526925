import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { IdCursor } from '../../common/id-format.js';
import { PageQuery } from '../../common/cursor-page.js';
import { DELIVERY_STATUSES } from '../entities/webhook-delivery.entity.js';
import type { DeliveryStatus } from '../entities/webhook-delivery.entity.js';
import { DELIVERY_ID } from '../delivery-store.js';

export class ListDeliveriesQuery extends PageQuery {
  @ApiPropertyOptional({ enum: DELIVERY_STATUSES })
  @IsOptional()
  @IsIn(DELIVERY_STATUSES)
  status?: DeliveryStatus;
  @IdCursor(DELIVERY_ID, 'after') declare after?: string;
  @IdCursor(DELIVERY_ID, 'before') declare before?: string;
}
