import { ConfigValidationError, Env, readVar } from './env.js';

export const DEFAULT_DATABASE_URL = 'sqlite:data/stephook.sqlite';

export type DatabaseConfig =
  | { readonly dialect: 'sqlite'; readonly path: string }
  | { readonly dialect: 'postgres'; readonly url: string };

/** `sqlite:<path>`, `sqlite::memory:` or `postgres://…`. */
export function parseDatabaseUrl(raw: string): DatabaseConfig {
  if (raw.startsWith('sqlite:')) {
    const path = raw.slice('sqlite:'.length);
    if (!path) throw new ConfigValidationError('DATABASE_URL', 'needs a file path after "sqlite:"');
    return { dialect: 'sqlite', path };
  }
  if (/^postgres(ql)?:\/\//.test(raw)) {
    try {
      new URL(raw);
    } catch {
      throw new ConfigValidationError('DATABASE_URL', 'is not a valid postgres:// URL');
    }
    return { dialect: 'postgres', url: raw };
  }
  throw new ConfigValidationError(
    'DATABASE_URL',
    'must start with "sqlite:" (a file path or :memory:) or "postgres://"',
  );
}

export function parseDatabaseConfig(env: Env): DatabaseConfig {
  return parseDatabaseUrl(readVar(env, 'DATABASE_URL') ?? DEFAULT_DATABASE_URL);
}
