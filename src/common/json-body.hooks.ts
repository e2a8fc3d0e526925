import type { IncomingMessage } from 'node:http';
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import {
  BadRequestException,
  HttpException,
  PayloadTooLargeException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseJsonBody, RefusedJsonError } from './json-body.js';
import { refuseBadQuery } from './text-rules.js';
import { errorMessage } from './error-message.js';

export const MAX_BODY_BYTES = 1024 * 1024;

/** The 415 for a body that is not JSON (also for a Content-Type Fastify cannot even parse). */
export const JSON_ONLY = 'Content-Type must be application/json';

/**
 * Reads every request body as JSON: at most 1 MiB (413), `application/json` only, in UTF-8 (415 for
 * another charset), valid UTF-8 (400), a JSON object (400), big integers kept exact. An empty body
 * is `{}`, so `curl -X POST …/cancel` works. A string holding NUL or a lone surrogate, in the body
 * or the query string, is a 400 naming the field (SPEC §9; text-rules.ts).
 *
 * Fastify's own parsers are replaced by one catch-all that only reads the bytes (`readRawBody`);
 * the checks run in a preValidation hook, in the order they always had: the size while reading,
 * then the query string, then the Content-Type, the UTF-8 and the JSON. Errors are HttpExceptions,
 * so Nest's exception layer answers them in its shape.
 */
export function parseJsonBodies(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', readRawBody);
  fastify.addHook('preValidation', (request, _reply, done) => {
    // Fastify reads no body for GET, HEAD or TRACE; one that comes anyway is read and judged as
    // any other body always was.
    if (request.body === undefined && carriesBody(request)) {
      readRawBody(request, request.raw, (error, raw) =>
        error ? done(error) : checkQueryAndBody(request, raw, done),
      );
      return;
    }
    checkQueryAndBody(request, request.body as Buffer | undefined, done);
  });
}

function checkQueryAndBody(
  request: FastifyRequest,
  raw: Buffer | undefined,
  done: (error?: Error) => void,
): void {
  try {
    refuseBadQuery(request.query, request.url);
    request.body = raw === undefined || raw.length === 0 ? {} : parseObject(request, raw);
  } catch (error) {
    done(error as Error);
    return;
  }
  done();
}

function carriesBody({ headers }: FastifyRequest): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function parseObject(request: FastifyRequest, raw: Buffer): object {
  const contentType = request.headers['content-type'];
  if (!isJsonMediaType(contentType)) throw new UnsupportedMediaTypeException(JSON_ONLY);
  const charset = contentTypeCharset(contentType);
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
    const reason = errorMessage(error);
    throw new BadRequestException(`Request body is not valid JSON: ${reason}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestException('Request body must be a JSON object');
  }
  return body;
}

/** A media type as RFC 6838 names it (what `type-is` accepted under Express). */
const MEDIA_TYPE =
  /^ *([A-Za-z0-9][A-Za-z0-9!#$&^_-]{0,126})\/([A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}) *$/;

/** `application/json` or `application/<anything>+json`, parameters aside. */
function isJsonMediaType(header: string | undefined): boolean {
  if (!header) return false;
  const end = header.indexOf(';');
  const type = (end === -1 ? header : header.slice(0, end)).replace(/^[ \t]+|[ \t]+$/g, '');
  const match = MEDIA_TYPE.exec(type.toLowerCase());
  return (
    match !== null &&
    match[1] === 'application' &&
    (match[2] === 'json' || match[2].endsWith('+json'))
  );
}

/** Refuses what is not UTF-8 (overlong forms, encoded surrogates) instead of making it U+FFFD. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The `charset` parameter of a Content-Type, lower-cased and unquoted, or null without one. */
function contentTypeCharset(header: string | undefined): string | null {
  const match = /;\s*charset\s*=\s*("?)([^";\s]*)\1/i.exec(header ?? '');
  return match ? match[2].toLowerCase() : null;
}

type Done = (error: Error | null, body?: Buffer) => void;

/**
 * The body's bytes, decoded from a gzip, deflate or br Content-Encoding, at most MAX_BODY_BYTES of
 * them. A body that is too large is still read to its end (and dropped) before the 413, so the
 * client, still sending, gets the answer rather than a reset connection.
 */
function readRawBody(request: FastifyRequest, payload: IncomingMessage, done: Done): void {
  const encoding = (request.headers['content-encoding'] ?? 'identity').toLowerCase();
  const declared = encoding === 'identity' ? Number(request.headers['content-length']) : NaN;
  let stream: IncomingMessage | Transform = payload;
  if (encoding !== 'identity') {
    const inflate = INFLATERS[encoding];
    if (!inflate) {
      fail(
        payload,
        done,
        new UnsupportedMediaTypeException(`unsupported content encoding "${encoding}"`),
      );
      return;
    }
    stream = payload.pipe(inflate());
  }
  if (declared > MAX_BODY_BYTES) {
    fail(payload, done, tooLarge());
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      stop();
      fail(payload, done, tooLarge());
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = () => {
    stop();
    if (!Number.isNaN(declared) && size !== declared) {
      done(unreadable('request size did not match content length'));
      return;
    }
    done(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
  };
  const onError = (error: Error) => {
    stop();
    fail(payload, done, unreadable(error.message));
  };
  const stop = () => {
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.off('error', onError);
    if (stream !== payload) {
      payload.unpipe(stream as Transform);
      stream.on('error', () => undefined);
      stream.destroy();
    }
  };
  stream.on('data', onData);
  stream.on('end', onEnd);
  stream.on('error', onError);
}

const INFLATERS: Record<string, (() => Transform) | undefined> = {
  deflate: () => zlib.createInflate(),
  gzip: () => zlib.createGunzip(),
  br: () => zlib.createBrotliDecompress(),
};

/** Answers only once the request has been read off to its end (or has failed). */
function fail(payload: IncomingMessage, done: Done, error: HttpException): void {
  if (payload.readableEnded || payload.destroyed) {
    done(error);
    return;
  }
  const answer = () => {
    payload.off('end', answer);
    payload.off('error', answer);
    done(error);
  };
  payload.on('end', answer);
  payload.on('error', answer);
  payload.resume();
}

function tooLarge(): HttpException {
  return new PayloadTooLargeException(`Request body exceeds ${MAX_BODY_BYTES} bytes (1 MiB)`);
}

function unreadable(reason: string): HttpException {
  return new BadRequestException(`Request body could not be read: ${reason}`);
}
