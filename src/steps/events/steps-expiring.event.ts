/**
 * Raised on the in-transaction bus (`TransactionalEvents`) by the steps' retention rule, inside the
 * transaction that is about to delete `stepIds` (which also deletes their metrics and, by the
 * foreign keys, their deliveries). A module whose rows of a step must outlive it adds the step's id
 * to `keep`; the step then stays until a later pass. The webhook module keeps every step with a
 * delivery still pending or held.
 */
export const STEPS_EXPIRING = 'steps.expiring';

export class StepsExpiringEvent {
  readonly keep = new Set<string>();

  constructor(readonly stepIds: readonly string[]) {}
}
