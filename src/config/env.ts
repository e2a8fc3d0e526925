/** The environment as the config blocks read it: a plain record, so tests can pass their own. */
export type Env = Readonly<Record<string, string | undefined>>;

/** A variable with a bad value. Its message is the one line printed before the start stops. */
export class ConfigValidationError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable} ${problem}`);
    this.name = 'ConfigValidationError';
  }
}

/** The trimmed value, or undefined when the variable is unset or blank. */
export function readVar(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

export function readInteger(
  env: Env,
  name: string,
  fallback: number,
  range: { min: number; max: number },
): number {
  const raw = readVar(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) {
    throw new ConfigValidationError(name, `must be a whole number, got "${raw}"`);
  }
  const value = Number(raw);
  if (value < range.min || value > range.max) {
    throw new ConfigValidationError(
      name,
      `must be between ${range.min} and ${range.max}, got ${raw}`,
    );
  }
  return value;
}

/**
 * A positive decimal number ("50", "0.5") within `range`, or undefined when unset; otherwise the
 * start stops naming the variable.
 */
export function readPositiveNumber(
  env: Env,
  name: string,
  range: { min: number; max: number },
): number | undefined {
  const raw = readVar(env, name);
  if (raw === undefined) return undefined;
  const value = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= range.min && value <= range.max)) {
    throw new ConfigValidationError(
      name,
      `must be a number from ${range.min} to ${range.max}, got "${raw}"`,
    );
  }
  return value;
}

export function readChoice<T extends string>(
  env: Env,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const raw = readVar(env, name);
  if (raw === undefined) return fallback;
  const value = raw.toLowerCase() as T;
  if (!choices.includes(value)) {
    throw new ConfigValidationError(name, `must be one of ${choices.join(', ')}, got "${raw}"`);
  }
  return value;
}

/** An absolute http(s) URL, or undefined when unset. The value is never echoed: it may hold credentials. */
export function readHttpUrl(env: Env, name: string): URL | undefined {
  return readUrl(env, name, ['http:', 'https:'], 'an absolute http:// or https:// URL');
}

/**
 * An absolute URL with one of `protocols`, or undefined when unset; otherwise the start stops with
 * "<name> must be <description>". The value is never echoed: URLs may hold credentials.
 */
export function readUrl(
  env: Env,
  name: string,
  protocols: readonly string[],
  description: string,
): URL | undefined {
  const raw = readVar(env, name);
  if (raw === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || !protocols.includes(url.protocol)) {
    throw new ConfigValidationError(name, `must be ${description}`);
  }
  return url;
}

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** "250ms", "5s", "30m", "2h", "5d" → milliseconds; undefined when the text is not such a duration. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * DURATION_UNITS_MS[match[2]];
}

/**
 * A duration ("30d", "12h"), or `never` → null; `fallback` when unset. Zero is refused: it would
 * mean "at once", which no setting of this kind intends.
 */
export function readDurationOrNever(env: Env, name: string, fallback: string): number | null {
  const text = readVar(env, name) ?? fallback;
  if (text.toLowerCase() === 'never') return null;
  const duration = parseDuration(text);
  if (duration === undefined || duration === 0) {
    throw new ConfigValidationError(
      name,
      `must be a duration such as 5d or 12h (units ms, s, m, h, d) or "never"; "${text}" is not one`,
    );
  }
  return duration;
}

/**
 * A key that travels in an `Authorization: Bearer` header, or undefined when unset: printable
 * ASCII only (no control character, which could end the header early, and nothing Node's HTTP
 * client would silently cut), so the key sent is exactly the key set.
 */
export function readHeaderKey(env: Env, name: string): string | undefined {
  const key = readVar(env, name);
  if (key !== undefined && !/^[\x20-\x7e]+$/.test(key)) {
    throw new ConfigValidationError(
      name,
      'must be printable ASCII characters only: it is sent in an Authorization header',
    );
  }
  return key;
}
