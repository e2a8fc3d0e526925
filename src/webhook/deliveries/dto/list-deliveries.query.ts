import { Type } from 'typebox';
import type { Static } from 'typebox';
import { idCursor } from '../../../common/id-format.js';
import { PAGE_FIELDS, reportedOwnFirst } from '../../../common/cursor-page.js';
import { field, oneOfMessages, textMessages } from '../../../steps/dto/validators.js';
import { DELIVERY_STATUSES } from '../../entities/webhook-delivery.entity.js';
import type { DeliveryStatus } from '../../entities/webhook-delivery.entity.js';
import { DELIVERY_ID } from '../../delivery-id.js';
import { ENDPOINT_ID } from '../../endpoints/endpoint.js';

/** `endpoint_id` of a request: the id of an endpoint, or `env`. */
export const endpointIdField = (description: string) =>
  field<string>(
    { type: 'string', pattern: ENDPOINT_ID.pattern.source, description, example: 'env' },
    () => [`endpoint_id must be ${ENDPOINT_ID.description}`],
  );

export const ListDeliveriesQuerySchema = reportedOwnFirst(
  Type.Object(
    {
      ...PAGE_FIELDS,
      status: Type.Optional(
        field<DeliveryStatus>(
          { type: 'string', enum: [...DELIVERY_STATUSES] },
          oneOfMessages(DELIVERY_STATUSES),
        ),
      ),
      step_id: Type.Optional(
        field<string>(
          {
            type: 'string',
            maxLength: 64,
            description: 'Only the deliveries of this step',
            example: 'step-3f1d2c4b-5a6e-4f70-8b9c-0d1e2f3a4b5c',
          },
          textMessages(64, true),
        ),
      ),
      endpoint_id: Type.Optional(endpointIdField('Only the deliveries to this endpoint')),
      after: idCursor(DELIVERY_ID, 'after'),
      before: idCursor(DELIVERY_ID, 'before'),
    },
    { additionalProperties: false },
  ),
);
export type ListDeliveriesQuery = Static<typeof ListDeliveriesQuerySchema>;
