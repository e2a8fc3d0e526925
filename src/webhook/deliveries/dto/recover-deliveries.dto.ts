import { ApiProperty } from '@nestjs/swagger';
import { IsoTimestamp } from '../../../common/iso-timestamp.js';

export class RecoverDeliveriesDto {
  @ApiProperty({
    format: 'date-time',
    description: 'Failed deliveries created at or after this time go back to pending.',
    example: '2026-11-28T00:00:00Z',
  })
  @IsoTimestamp({ optional: false })
  since: string;
}
