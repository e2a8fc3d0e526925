import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import type { PayloadMode, WebhookConfig } from '../../config/webhook.config.js';
import { RepeatedPassLog } from '../../database/database-unavailable.js';
import type { StepCompletedEvent } from '../../steps/events/step-completed.event.js';
import {
  ENV_ENDPOINT_ID,
  Endpoint,
  EndpointFilter,
  StoredSecret,
  matchesFilter,
  secretKey,
} from './endpoint.js';
import { WebhookEndpoint } from './entities/webhook-endpoint.entity.js';
import { WEBHOOK_CONFIG } from '../../config/stephook-config.module.js';

/** Inside a change to endpoints: every registry, in every process, reloads after its commit. */
export async function bumpEndpointRevision(manager: EntityManager): Promise<void> {
  await manager.query('UPDATE webhook_endpoint_revision SET revision = revision + 1 WHERE id = 1');
}

/** What every registry reads to notice a change. */
const READ_REVISION = 'SELECT revision FROM webhook_endpoint_revision WHERE id = 1';

/** Endpoints whose circuit breaker is open (opening and closing one bumps the revision). */
const READ_OPEN_BREAKERS =
  'SELECT endpoint_id FROM webhook_endpoint_throttles WHERE breaker_opened_at IS NOT NULL';

/** How often the endpoints' revision is read: a change made elsewhere applies within this. */
export const ENDPOINT_REVISION_POLL_MS = 500;

/**
 * Every endpoint this process delivers to, in memory: the environment endpoint (from
 * STEP_COMPLETE_WEBHOOK) and the API's (from `webhook_endpoints`). The outbox matches each
 * transition against it and the dispatcher takes URLs and secrets from it, so neither queries per
 * endpoint. It follows changes made in any process through one revision number that every change
 * bumps: read every ENDPOINT_REVISION_POLL_MS, and the endpoints reloaded when it moved.
 */
@Injectable()
export class EndpointRegistry implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(EndpointRegistry.name);
  private readonly passLog = new RepeatedPassLog(this.logger, 'Reading the webhook endpoints');
  private readonly environment: Endpoint | null;
  private endpoints: Endpoint[] = [];
  private byId = new Map<string, Endpoint>();
  /** Endpoints whose filter names agents, by agent id: a transition looks only at its agent's. */
  private byAgent = new Map<string, Endpoint[]>();
  /** Endpoints that may hear any agent, each checked on every transition. */
  private anyAgent: Endpoint[] = [];
  private revision = -1;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(WEBHOOK_CONFIG) config: WebhookConfig,
    @InjectRepository(WebhookEndpoint) private readonly rows: Repository<WebhookEndpoint>,
  ) {
    this.environment = config.url
      ? {
          id: ENV_ENDPOINT_ID,
          url: config.url,
          key: config.key,
          secrets: config.signingSecrets.map((key) => ({ key, expiresAt: null })),
          headers: {},
          payload: config.payload,
          filter: null,
          disabled: false,
          restricted: false,
          maxInFlight: config.maxInFlight,
          rateLimit: config.rateLimit ?? null,
          breakerOpen: false,
        }
      : null;
    this.install([]);
  }

  async onModuleInit(): Promise<void> {
    await this.reload();
    this.timer = setInterval(() => void this.follow(), ENDPOINT_REVISION_POLL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Every endpoint, the environment's first. */
  get all(): readonly Endpoint[] {
    return this.endpoints;
  }

  /** How many endpoints were created through the API (as last read from the database). */
  get apiEndpointCount(): number {
    return this.endpoints.length - (this.environment ? 1 : 0);
  }

  /** The environment endpoint, when STEP_COMPLETE_WEBHOOK is set. */
  get environmentEndpoint(): Endpoint | null {
    return this.byId.get(ENV_ENDPOINT_ID) ?? null;
  }

  get(id: string): Endpoint | undefined {
    return this.byId.get(id);
  }

  /**
   * The endpoint a delivery names, for an attempt. One this process has not seen yet was created
   * elsewhere since the last revision check: the endpoints are read again before it is given up as
   * deleted (undefined).
   */
  async find(id: string): Promise<Endpoint | undefined> {
    if (!this.byId.has(id)) await this.reload();
    return this.byId.get(id);
  }

  /** The endpoints that hear about this transition, disabled ones included (their deliveries wait). */
  matching(event: StepCompletedEvent): Endpoint[] {
    const candidates = event.agentId
      ? [...this.anyAgent, ...(this.byAgent.get(event.agentId) ?? [])]
      : this.anyAgent;
    return candidates.filter((endpoint) => matchesFilter(endpoint.filter, event));
  }

  /** Reads the endpoints now (after a change made in this process, before it answers). */
  async reload(): Promise<void> {
    const [{ revision }] = await this.rows.query<{ revision: number | string }[]>(READ_REVISION);
    const rows = await this.rows.find({ order: { createdAt: 'ASC', id: 'ASC' } });
    const open = await this.rows.query<{ endpoint_id: string }[]>(READ_OPEN_BREAKERS);
    this.install(rows.map(toEndpoint), new Set(open.map((row) => row.endpoint_id)));
    this.revision = Number(revision);
  }

  private async follow(): Promise<void> {
    try {
      const [{ revision }] = await this.rows.query<{ revision: number | string }[]>(READ_REVISION);
      if (Number(revision) !== this.revision) await this.reload();
      this.passLog.succeeded();
    } catch (error) {
      this.passLog.failed(error);
    }
  }

  private install(apiEndpoints: Endpoint[], openBreakers = new Set<string>()): void {
    const environment = this.environment && {
      ...this.environment,
      breakerOpen: openBreakers.has(this.environment.id),
    };
    for (const endpoint of apiEndpoints) endpoint.breakerOpen = openBreakers.has(endpoint.id);
    this.endpoints = environment ? [environment, ...apiEndpoints] : apiEndpoints;
    this.byId = new Map(this.endpoints.map((endpoint) => [endpoint.id, endpoint]));
    this.anyAgent = this.endpoints.filter((endpoint) => !endpoint.filter?.agent_ids);
    this.byAgent = new Map();
    for (const endpoint of this.endpoints) {
      for (const agentId of new Set(endpoint.filter?.agent_ids ?? [])) {
        this.byAgent.set(agentId, [...(this.byAgent.get(agentId) ?? []), endpoint]);
      }
    }
  }
}

/** A stored endpoint as the outbox and the dispatcher use it. */
export function toEndpoint(row: WebhookEndpoint): Endpoint {
  const secrets = JSON.parse(row.secrets) as StoredSecret[];
  return {
    id: row.id,
    url: new URL(row.url),
    secrets: secrets.map((stored) => ({
      key: secretKey(stored.secret),
      expiresAt: stored.expires_at ? Date.parse(stored.expires_at) : null,
    })),
    headers: JSON.parse(row.headers) as Record<string, string>,
    payload: row.payload as PayloadMode,
    filter: row.filter ? (JSON.parse(row.filter) as EndpointFilter) : null,
    disabled: row.disabled,
    restricted: true,
    maxInFlight: row.maxInFlight,
    rateLimit: row.rateLimit === null ? null : Number(row.rateLimit),
    breakerOpen: false,
  };
}
