import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import { HttpService } from '@nestjs/axios';
import { isIP } from 'node:net';
import { Inject, Injectable, OnApplicationShutdown, Optional } from '@nestjs/common';
import { isAxiosError } from 'axios';
import type { WebhookConfig } from '../../config/webhook.config.js';
import { guardedLookup, PrivateNetworkError, verdict } from './private-networks.js';
import type { Lookup } from './private-networks.js';
import { WEBHOOK_CONFIG } from '../../config/stephook-config.module.js';
import { errorMessage } from '../../common/error-message.js';

export const RESPONSE_SNIPPET_BYTES = 2048;

export type AttemptOutcome = 'success' | 'http_error' | 'timeout' | 'network_error';

export interface WebhookRequest {
  url: URL;
  body: string;
  headers: Record<string, string>;
  /** An endpoint created through the API: it may reach public addresses only. */
  restricted?: boolean;
}

/** How host names are resolved (a test gives its own, rather than the machine's DNS). */
export const DNS_LOOKUP = Symbol('DNS_LOOKUP');

/** What one POST came to: everything a delivery log needs to record about the attempt. */
export interface AttemptResult {
  outcome: AttemptOutcome;
  statusCode: number | null;
  durationMs: number;
  /** Why it failed, when it did; never contains request headers. */
  error: string | null;
  /** The first 2 KiB of the response body, as text. */
  responseSnippet: string | null;
  /** The `Retry-After` header in ms, when the receiver sent a usable one. */
  retryAfterMs: number | null;
}

/**
 * Sends one webhook POST and reports what happened. It never throws: every failure is an outcome.
 * Success is a 2xx within the deadline, which covers connect to last byte read; redirects are not
 * followed, so a 3xx is a failure, as in the original.
 */
@Injectable()
export class WebhookSender implements OnApplicationShutdown {
  /** For the environment endpoint, which the operator set: any address. */
  private readonly open: { http: HttpAgent; https: HttpsAgent };
  /** For API endpoints: public addresses only, checked on the address connected to. */
  private readonly restricted: { http: HttpAgent; https: HttpsAgent };

  constructor(
    private readonly http: HttpService,
    @Inject(WEBHOOK_CONFIG) private readonly config: WebhookConfig,
    @Optional() @Inject(DNS_LOOKUP) resolve?: Lookup,
  ) {
    const agentOptions = { keepAlive: true, maxSockets: config.concurrency };
    const openOptions = resolve ? { ...agentOptions, lookup: resolve } : agentOptions;
    this.open = { http: new HttpAgent(openOptions), https: new HttpsAgent(openOptions) };
    // proxyEnv: null keeps Node's own environment proxy (NODE_USE_ENV_PROXY) off these agents.
    const restrictedOptions = {
      ...agentOptions,
      lookup: guardedLookup(config.allowedNetworks, resolve),
      proxyEnv: null,
    };
    this.restricted = {
      http: new HttpAgent(restrictedOptions),
      https: new HttpsAgent(restrictedOptions),
    };
  }

  async send(request: WebhookRequest): Promise<AttemptResult> {
    const started = performance.now();
    const deadline = AbortSignal.timeout(this.config.timeoutMs);
    const elapsed = () => Math.round(performance.now() - started);
    const agents = request.restricted ? this.restricted : this.open;
    // An address in the URL is connected to without a lookup: it is checked here instead.
    const literal = request.url.hostname.replace(/^\[|\]$/g, '');
    const refused =
      request.restricted && isIP(literal) ? verdict(literal, this.config.allowedNetworks) : null;
    if (refused) {
      return {
        outcome: 'network_error',
        statusCode: null,
        durationMs: elapsed(),
        error: new PrivateNetworkError(literal, refused).message,
        responseSnippet: null,
        retryAfterMs: null,
      };
    }
    try {
      const response = await this.http.axiosRef.post<Readable>(request.url.href, request.body, {
        headers: request.headers,
        signal: deadline,
        responseType: 'stream',
        maxRedirects: 0,
        validateStatus: () => true,
        httpAgent: agents.http,
        httpsAgent: agents.https,
        // A proxy from the environment (HTTP_PROXY, ALL_PROXY …) would make the connection to
        // the proxy, not the endpoint, and the guard would judge the wrong address: an API
        // endpoint never uses one. The environment endpoint, set by the operator, still does.
        ...(request.restricted ? { proxy: false as const } : {}),
      });
      const snippet = await readSnippet(response.data, deadline);
      const ok = response.status >= 200 && response.status < 300;
      return {
        outcome: ok ? 'success' : 'http_error',
        statusCode: response.status,
        durationMs: elapsed(),
        error: ok ? null : `HTTP ${response.status}`,
        responseSnippet: snippet,
        retryAfterMs: parseRetryAfter(response.headers['retry-after']),
      };
    } catch (error) {
      const timedOut = deadline.aborted;
      return {
        outcome: timedOut ? 'timeout' : 'network_error',
        statusCode: null,
        durationMs: elapsed(),
        error: timedOut
          ? `no complete response within ${this.config.timeoutMs} ms`
          : describe(error),
        responseSnippet: null,
        retryAfterMs: null,
      };
    }
  }

  onApplicationShutdown(): void {
    for (const agent of [
      this.open.http,
      this.open.https,
      this.restricted.http,
      this.restricted.https,
    ])
      agent.destroy();
  }
}

/** Reads up to 2 KiB of the body, then lets the rest go; fails if the deadline passes first. */
function readSnippet(stream: Readable, deadline: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = () => {
      cleanup();
      resolve(Buffer.concat(chunks).subarray(0, RESPONSE_SNIPPET_BYTES).toString('utf8'));
    };
    const fail = (error: unknown) => {
      cleanup();
      stream.destroy();
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    const onAbort = () => fail(deadline.reason);
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= RESPONSE_SNIPPET_BYTES) {
        stream.destroy();
        finish();
      }
    };
    const cleanup = () => {
      deadline.removeEventListener('abort', onAbort);
      stream.off('data', onData).off('end', finish).off('error', fail);
    };
    if (deadline.aborted) return fail(deadline.reason);
    deadline.addEventListener('abort', onAbort);
    stream.on('data', onData).on('end', finish).on('error', fail);
  });
}

/** `Retry-After` as delay-seconds or an HTTP date → ms, or null. */
export function parseRetryAfter(header: unknown, now = Date.now()): number | null {
  if (typeof header !== 'string' || header.trim() === '') return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

function describe(error: unknown): string {
  if (isAxiosError(error) && !error.message) return error.code ?? 'request failed';
  return errorMessage(error);
}
