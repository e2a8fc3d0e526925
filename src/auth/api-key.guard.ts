import { createHash, timingSafeEqual } from 'node:crypto';
import {
  CanActivate,
  ExecutionContext,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { appConfig } from '../config/app.config.js';
import type { AppConfig } from '../config/app.config.js';
import { IS_PUBLIC } from './public.decorator.js';

/**
 * With API_KEY set, every route not marked @Public() needs `Authorization: Bearer <API_KEY>`.
 * Keys are compared as SHA-256 digests with timingSafeEqual: constant time, whatever their lengths.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly expectedDigest: Buffer | null;

  constructor(
    @Inject(appConfig.KEY) config: AppConfig,
    private readonly reflector: Reflector,
  ) {
    this.expectedDigest = config.apiKey ? digest(config.apiKey) : null;
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expectedDigest) return true;
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    const header = context.switchToHttp().getRequest<Request>().headers.authorization ?? '';
    const match = /^Bearer (.+)$/.exec(header);
    if (!match || !timingSafeEqual(digest(match[1]), this.expectedDigest)) {
      throw new UnauthorizedException('Authorization: Bearer <API_KEY> is missing or wrong');
    }
    return true;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
