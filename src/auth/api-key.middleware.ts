import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, NestMiddleware, UnauthorizedException } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { appConfig } from '../config/app.config.js';
import type { AppConfig } from '../config/app.config.js';

/**
 * With API_KEY set, a request needs `Authorization: Bearer <API_KEY>` before anything else looks at
 * it (its body is not even read). Keys are compared as SHA-256 digests with timingSafeEqual:
 * constant time, whatever their lengths. AppModule leaves /health and /ready out.
 */
@Injectable()
export class ApiKeyMiddleware implements NestMiddleware {
  private readonly expectedDigest: Buffer | null;

  constructor(@Inject(appConfig.KEY) config: AppConfig) {
    this.expectedDigest = config.apiKey ? digest(config.apiKey) : null;
  }

  use(request: Request, _response: Response, next: NextFunction): void {
    if (this.expectedDigest && !bearerMatches(request.headers.authorization, this.expectedDigest)) {
      throw new UnauthorizedException(API_KEY_REFUSAL);
    }
    next();
  }
}

export const API_KEY_REFUSAL = 'Authorization: Bearer <API_KEY> is missing or wrong';

export function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Whether an Authorization header carries the Bearer key whose digest is given, in constant time.
 * The scheme's name is case-insensitive (RFC 9110 §11.1); the key is compared exactly.
 */
export function bearerMatches(header: string | undefined, expectedDigest: Buffer): boolean {
  const match = /^bearer +(.+)$/i.exec(header ?? '');
  return match !== null && timingSafeEqual(digest(match[1]), expectedDigest);
}
