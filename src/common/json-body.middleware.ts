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
import { refuseNulInQuery } from './nul-characters.js';

export const MAX_BODY_BYTES = 1024 * 1024;

const readRawBody = bodyParser.raw({ type: () => true, limit: MAX_BODY_BYTES });

/**
 * Reads every request body as JSON: at most 1 MiB (413), `application/json` only (415), a JSON
 * object (400), big integers kept exact. An empty body is `{}`, so `curl -X POST …/cancel` works.
 * NUL in any string of the body or the query string is a 400 naming the field (SPEC §9).
 * Errors are thrown as HttpExceptions so they come out in Nest's error shape.
 */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware {
  async use(request: Request, _response: Response, next: NextFunction): Promise<void> {
    const raw = await readBody(request);
    refuseNulInQuery(request.query);
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
  let body: unknown;
  try {
    body = parseJsonBody(raw.toString('utf8'));
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

function toHttpException(error: unknown): HttpException {
  const { status, type } = error as { status?: number; type?: string };
  if (status === 413 || type === 'entity.too.large') {
    return new PayloadTooLargeException(`Request body exceeds ${MAX_BODY_BYTES} bytes (1 MiB)`);
  }
  if (status === 415) return new UnsupportedMediaTypeException((error as Error).message);
  return new BadRequestException(`Request body could not be read: ${(error as Error).message}`);
}
