import { errorMessage } from './common/error-message.js';

/**
 * Why a process could not start, as the one line it stops with: a listen error names HOST and
 * PORT (or METRICS_PORT) and what to change; anything else (a database that does not answer, a
 * refused password) is its own message. Never a URL or a key: errors here come from Node, pg and
 * ioredis, whose messages name hosts and users, not passwords.
 */
export function startFailureLine(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const syscall = (error as NodeJS.ErrnoException | null)?.syscall;
  const address = listenAddress(error);
  if (syscall === 'listen' || (syscall === 'getaddrinfo' && address !== undefined)) {
    const where = address ?? 'HOST:PORT';
    switch (code) {
      case 'EADDRINUSE':
        return `cannot listen on ${where}: another process holds it; stop it or set PORT to a free port`;
      case 'EADDRNOTAVAIL':
        return `cannot listen on ${where}: HOST is not an address of this machine`;
      case 'EACCES':
        return `cannot listen on ${where}: not allowed (a port below 1024 needs privileges); set PORT`;
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return `cannot listen on ${where}: HOST does not resolve to an address of this machine`;
    }
  }
  return `could not start: ${errorMessage(error)}`;
}

/** host:port of a listen error, when Node names them. */
function listenAddress(error: unknown): string | undefined {
  const { address, port, hostname } = (error ?? {}) as {
    address?: string;
    port?: number;
    hostname?: string;
  };
  if (address !== undefined) return port ? `${address}:${port}` : address;
  return hostname;
}
