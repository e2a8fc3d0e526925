import {
  BadRequestException,
  HttpException,
  Injectable,
  NestMiddleware,
  PayloadTooLargeException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import bodyParser from 'body-parser';
import type { NextFunction, Request, Response } from 'express';
import { parseJsonBody, RefusedJsonError } from './json-body.js';
import { refuseBadQuery } from './text-rules.js';

export const MAX_BODY_BYTES = 1024 * 1024;

const readRawBody = bodyParser.raw({ type: () => true, limit: MAX_BODY_BYTES });

/**
 * Reads every request body as JSON: at most 1 MiB (413), `application/json` only, in UTF-8 (415 for
 * another charset), valid UTF-8 (400), a JSON object (400), big integers kept exact. An empty body
 * is `{}`, so `curl -X POST …/cancel` works. A string holding NUL or a lone surrogate, in the body
 * or the query string, is a 400 naming the field (SPEC §9; text-rules.ts).
 * Errors are thrown as HttpExceptions so they come out in Nest's error shape.
 */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware {
  async use(request: Request, _response: Response, next: NextFunction): Promise<void> {
    const raw = await readBody(request);
    refuseBadQuery(request.query, request.originalUrl);
    request.body = raw.length === 0 ? {} : parseObject(request, raw);
    next();
  }
}

function readBody(request: Request): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    readRawBody(request, request.res!, (error?: unknown) => {
      if (error) return reject(toHttpException(error));
      resolve(Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0));
    });
  });
}

function parseObject(request: Request, raw: Buffer): object {
  if (!request.is(['application/json', 'application/*+json'])) {
    throw new UnsupportedMediaTypeException('Content-Type must be application/json');
  }
  const charset = contentTypeCharset(request.headers['content-type']);
  if (charset !== null && charset !== 'utf-8' && charset !== 'utf8') {
    throw new UnsupportedMediaTypeException(
      `Content-Type charset must be utf-8 (JSON is UTF-8), not ${JSON.stringify(charset)}`,
    );
  }
  let text: string;
  try {
    text = UTF8.decode(raw);
  } catch {
    throw new BadRequestException('Request body is not valid UTF-8');
  }
  let body: unknown;
  try {
    body = parseJsonBody(text);
  } catch (error) {
    if (error instanceof RefusedJsonError) throw new BadRequestException(error.message);
    const reason = error instanceof Error ? error.message : String(error);
    throw new BadRequestException(`Request body is not valid JSON: ${reason}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestException('Request body must be a JSON object');
  }
  return body;
}

/** Refuses what is not UTF-8 (overlong forms, encoded surrogates) instead of making it U+FFFD. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The `charset` parameter of a Content-Type, lower-cased and unquoted, or null without one. */
function contentTypeCharset(header: string | undefined): string | null {
  const match = /;\s*charset\s*=\s*("?)([^";\s]*)\1/i.exec(header ?? '');
  return match ? match[2].toLowerCase() : null;
}

function toHttpException(error: unknown): HttpException {
  const { status, type } = error as { status?: number; type?: string };
  if (status === 413 || type === 'entity.too.large') {
    return new PayloadTooLargeException(`Request body exceeds ${MAX_BODY_BYTES} bytes (1 MiB)`);
  }
  if (status === 415) return new UnsupportedMediaTypeException((error as Error).message);
  return new BadRequestException(`Request body could not be read: ${(error as Error).message}`);
}
