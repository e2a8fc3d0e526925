import type { Env } from '../../src/config/env.js';
import { parseStephookConfig, StephookConfig } from '../../src/config/stephook-config.js';

/**
 * The configuration a test runs on: the test's own variables only (never the machine's), on an
 * in-memory SQLite database (migrated like a real one) unless the test gives DATABASE_URL.
 */
export function testConfig(env: Env = {}): StephookConfig {
  const databaseUrl = env.DATABASE_URL?.trim() ? env.DATABASE_URL : 'sqlite::memory:';
  return parseStephookConfig({ ...env, DATABASE_URL: databaseUrl });
}
