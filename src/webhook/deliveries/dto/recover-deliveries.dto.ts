import { Type } from 'typebox';
import type { Static } from 'typebox';
import { isoTimestamp } from '../../../common/iso-timestamp.js';
import { named } from '../../../common/request-schema.js';
import { ENDPOINT_ID } from '../../endpoints/endpoint.js';
import { field } from '../../../steps/dto/validators.js';

export const RecoverDeliveriesSchema = named(
  'RecoverDeliveriesDto',
  Type.Object(
    {
      since: isoTimestamp({
        description: 'Failed deliveries created at or after this time go back to pending.',
        example: '2026-11-28T00:00:00Z',
      }),
      endpoint_id: Type.Optional(
        field<string>(
          {
            type: 'string',
            pattern: ENDPOINT_ID.pattern.source,
            description: "Only this endpoint's failed deliveries",
            example: 'env',
            nullable: true,
          },
          () => [`endpoint_id must be ${ENDPOINT_ID.description}`],
        ),
      ),
    },
    { additionalProperties: false },
  ),
);
export type RecoverDeliveriesDto = Static<typeof RecoverDeliveriesSchema>;
