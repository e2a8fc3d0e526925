import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { IdCursor } from '../../../common/id-format.js';
import { PageQuery } from '../../../common/cursor-page.js';
import { DELIVERY_STATUSES } from '../../entities/webhook-delivery.entity.js';
import type { DeliveryStatus } from '../../entities/webhook-delivery.entity.js';
import { DELIVERY_ID } from '../../delivery-id.js';
import { ENDPOINT_ID } from '../../endpoints/endpoint.js';

export class ListDeliveriesQuery extends PageQuery {
  @ApiPropertyOptional({ enum: DELIVERY_STATUSES })
  @IsOptional()
  @IsIn(DELIVERY_STATUSES)
  status?: DeliveryStatus;

  @ApiPropertyOptional({
    description: 'Only the deliveries of this step',
    example: 'step-3f1d2c4b-5a6e-4f70-8b9c-0d1e2f3a4b5c',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  step_id?: string;

  @ApiPropertyOptional({
    pattern: ENDPOINT_ID.pattern.source,
    description: 'Only the deliveries to this endpoint',
    example: 'env',
  })
  @IsOptional()
  @Matches(ENDPOINT_ID.pattern, { message: `endpoint_id must be ${ENDPOINT_ID.description}` })
  endpoint_id?: string;

  @IdCursor(DELIVERY_ID, 'after') declare after?: string;
  @IdCursor(DELIVERY_ID, 'before') declare before?: string;
}
