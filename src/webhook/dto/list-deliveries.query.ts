import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, Matches } from 'class-validator';
import { PageQuery } from '../../common/cursor-page.js';
import { DELIVERY_STATUSES } from '../entities/webhook-delivery.entity.js';
import type { DeliveryStatus } from '../entities/webhook-delivery.entity.js';
import { DELIVERY_ID_PATTERN } from '../delivery-store.js';

const cursorMessage = (field: string) => ({
  message: `${field} must be a delivery id ("msg_" followed by 32 hex digits)`,
});

export class ListDeliveriesQuery extends PageQuery {
  @ApiPropertyOptional({ enum: DELIVERY_STATUSES })
  @IsOptional()
  @IsIn(DELIVERY_STATUSES)
  status?: DeliveryStatus;
  @ApiPropertyOptional({
    description: 'A delivery id: the deliveries that come after it in the requested order.',
  })
  @IsOptional()
  @Matches(DELIVERY_ID_PATTERN, cursorMessage('after'))
  declare after?: string;
  @ApiPropertyOptional({
    description: 'A delivery id: the deliveries that come before it in the requested order.',
  })
  @IsOptional()
  @Matches(DELIVERY_ID_PATTERN, cursorMessage('before'))
  declare before?: string;
}
