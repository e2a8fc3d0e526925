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
