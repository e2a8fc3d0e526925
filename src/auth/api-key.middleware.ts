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
    if (this.expectedDigest) {
      const match = /^Bearer (.+)$/.exec(request.headers.authorization ?? '');
      if (!match || !timingSafeEqual(digest(match[1]), this.expectedDigest)) {
        throw new UnauthorizedException('Authorization: Bearer <API_KEY> is missing or wrong');
      }
    }
    next();
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
