import { Env, readDurationOrNever } from './env.js';

/** How long finished rows are kept; null: forever. Pending and held deliveries are never aged out. */
export function parseRetentionConfig(env: Env) {
  return {
    /** Delivered deliveries (with their attempts), by age since created. */
    deliveredMs: readDurationOrNever(env, 'STEP_COMPLETE_RETENTION', '30d'),
    /** Failed deliveries (with their attempts), by age since created. */
    failedMs: readDurationOrNever(env, 'STEP_COMPLETE_FAILED_RETENTION', '90d'),
    /** Steps with their metrics and finished deliveries, by age since created: off unless asked. */
    stepsMs: readDurationOrNever(env, 'STEP_RETENTION', 'never'),
  };
}

export type RetentionConfig = Readonly<ReturnType<typeof parseRetentionConfig>>;
