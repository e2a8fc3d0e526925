import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { AppConfig } from './config/app.config.js';

/** How often Node checks the header and request deadlines of open connections. */
const DEADLINE_CHECK_INTERVAL_MS = 1_000;

/**
 * Bounds what a client can hold open: an idle keep-alive connection closes after
 * HTTP_KEEP_ALIVE_TIMEOUT_MS, one that has not finished its headers after HTTP_HEADERS_TIMEOUT_MS,
 * as does a connection that sends nothing, a whole request after HTTP_REQUEST_TIMEOUT_MS, and past
 * HTTP_MAX_CONNECTIONS new connections are refused. Set before listening, since Node starts its deadline checker then.
 */
export function limitConnections(server: Server, limits: AppConfig['http']): void {
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // Above the keep-alive timeout, as Node advises, so a reused connection is not cut mid-request.
  server.headersTimeout = Math.max(limits.headersTimeoutMs, limits.keepAliveTimeoutMs + 1_000);
  server.requestTimeout = Math.max(limits.requestTimeoutMs, server.headersTimeout);
  server.maxConnections = limits.maxConnections;
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval =
    DEADLINE_CHECK_INTERVAL_MS;
  // Node's header deadline starts with the first byte: a connection that sends nothing at all
  // within the same time is closed here.
  server.on('connection', (socket: Socket) => {
    const silent = setTimeout(() => {
      if (socket.bytesRead === 0) socket.destroy();
    }, server.headersTimeout);
    socket.once('close', () => clearTimeout(silent));
  });
}

/**
 * What a connection gets when Node cannot read a request off it at all (Fastify's
 * `clientErrorHandler`): a request that missed its deadline (408), headers over Node's limit (431),
 * or bytes that are not HTTP (400: an unknown method, Transfer-Encoding beside Content-Length …).
 * In the API's error shape, naming the problem, and with `Connection: close`, since the socket is
 * closed right after: a keep-alive client then opens a new connection instead of writing into a
 * dead one.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [statusCode, errorName, message] = clientErrorAnswer(error.code);
  const body = JSON.stringify({ statusCode, message, error: errorName });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${statusCode} ${errorName}\r\nConnection: close\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

function clientErrorAnswer(code: string | undefined): [number, string, string] {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return [
      408,
      'Request Timeout',
      'The request did not arrive in time (HTTP_HEADERS_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS)',
    ];
  }
  if (code === 'HPE_HEADER_OVERFLOW') {
    return [431, 'Request Header Fields Too Large', 'The request headers exceed 16 KiB'];
  }
  return [400, 'Bad Request', `The request is not valid HTTP/1.1 (${code ?? 'unreadable'})`];
}
