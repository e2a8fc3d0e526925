import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { applyCursorPage, PageQuery } from '../../common/cursor-page.js';
import { requireWithinScope } from '../../common/project-scope.js';
import type { ProjectScope } from '../../common/project-scope.js';
import { ENDPOINT_LIMITS } from '../../config/webhook.config.js';
import { TransactionRunner } from '../../database/transaction-runner.js';
import { DeliveryStore } from '../delivery-store.js';
import { ENDPOINT_DELETED } from '../entities/webhook-delivery.entity.js';
import { DeliveryTrigger } from '../dispatch/delivery-trigger.js';
import { EndpointNotFoundError, EnvironmentEndpointError } from '../webhook.errors.js';
import type { CreateEndpointDto, UpdateEndpointDto } from './dto/endpoint.dto.js';
import {
  ENV_ENDPOINT_ID,
  MAX_PREVIOUS_SECRETS,
  ROTATION_OVERLAP_MS,
  StoredSecret,
  newEndpointId,
  newEndpointSecret,
} from './endpoint.js';
import { lockEndpointForChange } from './endpoint-locks.js';
import { endpointInScope, endpointScopeCondition } from './endpoint-scope.js';
import { bumpEndpointRevision, EndpointRegistry } from './endpoint-registry.js';
import { BreakerView, readBreakers } from './endpoint-throttles.js';
import { WebhookEndpointThrottle } from './entities/webhook-endpoint-throttle.entity.js';
import { WebhookEndpoint } from './entities/webhook-endpoint.entity.js';

/**
 * Endpoints created through the API (SPEC §9). Every change commits with a bump of the endpoints'
 * revision, so every process's `EndpointRegistry` picks it up within a second; this process's
 * picks it up before the change is answered. Disabling holds the endpoint's pending deliveries,
 * enabling releases them, deleting ends them as failed: each in the transaction of the change, which
 * first takes the endpoint's row lock so that no transition writes a delivery of it meanwhile
 * (`endpoint-locks.ts`). A key bound to projects (its ProjectScope) sees and changes only the
 * endpoints whose filter is limited to its projects (`endpoint-scope.ts`), and what it creates or
 * changes must stay so; any other endpoint is not found, as one that does not exist.
 */
@Injectable()
export class EndpointsService {
  constructor(
    @InjectRepository(WebhookEndpoint) private readonly endpoints: Repository<WebhookEndpoint>,
    private readonly transactions: TransactionRunner,
    private readonly registry: EndpointRegistry,
    private readonly store: DeliveryStore,
    private readonly trigger: DeliveryTrigger,
  ) {}

  async create(dto: CreateEndpointDto, scope: ProjectScope): Promise<WebhookEndpoint> {
    requireWithinScope(scope, 'filter.project_ids', dto.filter?.project_ids);
    const now = new Date().toISOString();
    const disabled = dto.disabled ?? false;
    const endpoint = this.endpoints.create({
      id: newEndpointId(),
      url: dto.url,
      description: dto.description ?? null,
      filter: dto.filter ? JSON.stringify(cleanFilter(dto.filter)) : null,
      payload: dto.payload ?? 'minimal',
      headers: JSON.stringify(lowerCaseNames(dto.headers ?? {})),
      secrets: JSON.stringify([{ secret: newEndpointSecret(), expires_at: null }]),
      disabled,
      disabledReason: disabled ? 'manual' : null,
      failingSince: null,
      failedAttempts: 0,
      maxInFlight: dto.max_in_flight ?? ENDPOINT_LIMITS.maxInFlight.default,
      rateLimit: dto.rate_limit ?? null,
      createdAt: now,
      updatedAt: now,
    });
    await this.change(async (manager) => {
      await manager.insert(WebhookEndpoint, endpoint);
    });
    return endpoint;
  }

  async list(query: PageQuery, scope: ProjectScope): Promise<WebhookEndpoint[]> {
    const dialect = this.endpoints.manager.connection.options.type;
    const visible = endpointScopeCondition(scope, dialect === 'postgres' ? 'postgres' : 'sqlite');
    return (
      await applyCursorPage(this.endpoints.createQueryBuilder('e'), query, visible)
    ).getMany();
  }

  /** The circuit breakers of these endpoints (`env` included), in one query however many. */
  async breakers(ids: readonly string[]): Promise<Map<string, BreakerView>> {
    return readBreakers(this.endpoints.manager, ids);
  }

  async findOne(id: string, scope: ProjectScope): Promise<WebhookEndpoint> {
    this.refuseEnvironment(id, scope);
    const endpoint = await this.endpoints.findOneBy({ id });
    if (!endpoint || !endpointInScope(endpoint.filter, scope)) throw new EndpointNotFoundError(id);
    return endpoint;
  }

  /** The newest secret, the one receivers are told to verify with. */
  async secret(id: string, scope: ProjectScope): Promise<string> {
    return newestSecret(await this.findOne(id, scope));
  }

  async update(id: string, dto: UpdateEndpointDto, scope: ProjectScope): Promise<WebhookEndpoint> {
    this.refuseEnvironment(id, scope);
    let released: { id: string; attemptCount: number }[] = [];
    const updated = await this.change(async (manager) => {
      released = []; // the unit runs again after a deadlock
      const endpoint = await lockedInScope(manager, id, scope);
      // What a bound key leaves changed must stay within its projects.
      if (dto.filter !== undefined)
        requireWithinScope(scope, 'filter.project_ids', dto.filter?.project_ids);
      const now = new Date();
      if (dto.url != null) endpoint.url = dto.url;
      if (dto.description !== undefined) endpoint.description = dto.description;
      if (dto.filter !== undefined)
        endpoint.filter = dto.filter ? JSON.stringify(cleanFilter(dto.filter)) : null;
      if (dto.payload != null) endpoint.payload = dto.payload;
      if (dto.headers !== undefined)
        endpoint.headers = JSON.stringify(lowerCaseNames(dto.headers ?? {}));
      if (dto.max_in_flight !== undefined) endpoint.maxInFlight = dto.max_in_flight;
      if (dto.rate_limit !== undefined && dto.rate_limit !== endpoint.rateLimit) {
        endpoint.rateLimit = dto.rate_limit;
        // The next free time was spaced by the old rate: the new one applies from now.
        await manager.update(WebhookEndpointThrottle, { endpointId: id }, { rateNextAt: '0' });
      }
      // Holding and releasing run even when the state does not change: saying it again repairs
      // whatever an earlier fault left behind.
      if (dto.disabled === true) {
        if (!endpoint.disabled) {
          endpoint.disabled = true;
          endpoint.disabledReason = 'manual';
        }
        await this.store.holdPending(manager, id, now);
      } else if (dto.disabled === false) {
        if (endpoint.disabled) {
          endpoint.disabled = false;
          endpoint.disabledReason = null;
          endpoint.failingSince = null;
          endpoint.failedAttempts = 0;
        }
        released = await this.store.releaseHeld(manager, id, now);
      }
      endpoint.updatedAt = now.toISOString();
      await manager.save(WebhookEndpoint, endpoint);
      return endpoint;
    });
    if (released.length > 0) await this.trigger.requeued(released);
    return updated;
  }

  /**
   * A new secret; the one it replaces keeps signing beside it for ROTATION_OVERLAP_MS, and so do
   * earlier ones still within theirs, up to MAX_PREVIOUS_SECRETS: rotating again within 24 h drops
   * the oldest at once.
   */
  async rotateSecret(id: string, scope: ProjectScope): Promise<string> {
    this.refuseEnvironment(id, scope);
    return this.change(async (manager) => {
      // Locked: two rotations at once must not both start from the same secrets (one would be lost,
      // and its caller told a secret that never signs).
      const endpoint = await lockedInScope(manager, id, scope);
      const now = Date.now();
      const secret = newEndpointSecret();
      const stored = JSON.parse(endpoint.secrets) as StoredSecret[];
      endpoint.secrets = JSON.stringify([
        { secret, expires_at: null },
        ...stillSigning(stored, now, new Date(now + ROTATION_OVERLAP_MS).toISOString()),
      ]);
      endpoint.updatedAt = new Date(now).toISOString();
      await manager.save(WebhookEndpoint, endpoint);
      return secret;
    });
  }

  /**
   * Deletes the endpoint and its throttle row (breaker, rate allowance); what it had not received
   * ends as failed (`endpoint deleted`).
   */
  async remove(id: string, scope: ProjectScope): Promise<void> {
    this.refuseEnvironment(id, scope);
    await this.change(async (manager) => {
      if (scope === null) {
        if (!(await lockEndpointForChange(manager, id))) throw new EndpointNotFoundError(id);
      } else {
        await lockedInScope(manager, id, scope);
      }
      // The lock order: endpoint row, then its throttle row, then its deliveries.
      await manager.delete(WebhookEndpointThrottle, { endpointId: id });
      await manager.delete(WebhookEndpoint, { id });
      await this.store.failUndelivered(manager, id, ENDPOINT_DELETED, new Date());
    });
  }

  /**
   * `env` is changed by the environment only; without STEP_COMPLETE_WEBHOOK there is none, and a
   * key bound to projects never sees it.
   */
  private refuseEnvironment(id: string, scope: ProjectScope): void {
    if (id !== ENV_ENDPOINT_ID) return;
    if (!this.registry.environmentEndpoint || scope !== null) throw new EndpointNotFoundError(id);
    throw new EnvironmentEndpointError();
  }

  /** Runs a change with the revision bump, then reloads this process's registry. */
  private async change<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const result = await this.transactions.run(async (manager) => {
      const value = await work(manager);
      await bumpEndpointRevision(manager);
      return value;
    });
    // Committed: if the endpoints cannot be read back right now, the revision poll catches up.
    await this.registry.reload().catch(() => undefined);
    return result;
  }
}

/**
 * In an endpoint change, before anything else: the endpoint's row, locked for the change; not
 * found when it does not exist or lies outside `scope` (read under the lock, so a filter changed
 * meanwhile is judged as committed).
 */
async function lockedInScope(
  manager: EntityManager,
  id: string,
  scope: ProjectScope,
): Promise<WebhookEndpoint> {
  if (!(await lockEndpointForChange(manager, id))) throw new EndpointNotFoundError(id);
  const endpoint = (await manager.findOneBy(WebhookEndpoint, { id }))!;
  if (!endpointInScope(endpoint.filter, scope)) throw new EndpointNotFoundError(id);
  return endpoint;
}

export function newestSecret(endpoint: WebhookEndpoint): string {
  return (JSON.parse(endpoint.secrets) as StoredSecret[])[0].secret;
}

/**
 * The secrets that sign beside a new one: the one it replaces (until `until`) and those rotated
 * out before it and not expired at `now`, the most recent first, MAX_PREVIOUS_SECRETS at most.
 */
function stillSigning(stored: StoredSecret[], now: number, until: string): StoredSecret[] {
  return stored
    .filter((old) => old.expires_at === null || Date.parse(old.expires_at) > now)
    .map((old) => ({ secret: old.secret, expires_at: old.expires_at ?? until }))
    .sort((a, b) => Date.parse(b.expires_at) - Date.parse(a.expires_at))
    .slice(0, MAX_PREVIOUS_SECRETS);
}

/** Only the criteria given, so a stored filter reads as it was meant. */
function cleanFilter(filter: NonNullable<CreateEndpointDto['filter']>): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(filter).filter(([, values]) => values !== undefined && values !== null),
  );
}

function lowerCaseNames(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]),
  );
}
