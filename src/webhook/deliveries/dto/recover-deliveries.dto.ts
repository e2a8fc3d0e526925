import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';
import { ENDPOINT_ID } from '../../endpoints/endpoint.js';
import { IsoTimestamp } from '../../../common/iso-timestamp.js';

export class RecoverDeliveriesDto {
  @ApiProperty({
    format: 'date-time',
    description: 'Failed deliveries created at or after this time go back to pending.',
    example: '2026-11-28T00:00:00Z',
  })
  @IsoTimestamp({ optional: false })
  since: string;

  @ApiPropertyOptional({
    pattern: ENDPOINT_ID.pattern.source,
    description: "Only this endpoint's failed deliveries",
    example: 'env',
  })
  @IsOptional()
  @Matches(ENDPOINT_ID.pattern, { message: `endpoint_id must be ${ENDPOINT_ID.description}` })
  endpoint_id?: string;
}
