import { ConfigType, registerAs } from '@nestjs/config';
import { ConfigValidationError, Env, readChoice, readInteger, readVar } from './env.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function parseAppConfig(env: Env) {
  const host = readVar(env, 'HOST') ?? '127.0.0.1';
  if (/\s/.test(host)) throw new ConfigValidationError('HOST', 'must be a host name or address');
  return {
    port: readInteger(env, 'PORT', 3000, { min: 0, max: 65_535 }),
    host,
    apiKey: readVar(env, 'API_KEY'),
    logLevel: readChoice(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    logFormat: readChoice(env, 'LOG_FORMAT', LOG_FORMATS, 'text'),
  };
}

export const appConfig = registerAs('app', () => parseAppConfig(process.env));
export type AppConfig = ConfigType<typeof appConfig>;
