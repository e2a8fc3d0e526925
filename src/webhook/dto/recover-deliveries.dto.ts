import { IsoTimestamp } from '../../common/iso-timestamp.js';

export class RecoverDeliveriesDto {
  /** Failed deliveries created at or after this time go back to pending. */
  @IsoTimestamp({ optional: false }) since: string;
}
