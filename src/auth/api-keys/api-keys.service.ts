import { BadRequestException, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import {
  applyCursorPage,
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  PageQuery,
  UnknownCursorError,
} from '../../common/cursor-page.js';
import { keyDigest, KeyRing, principalOfKey } from '../key-ring.js';
import type { Principal } from '../principal.js';
import { newApiKey, newApiKeyId, prefixOf } from './api-key-id.js';
import { ApiKeyNotFoundError } from './api-keys.errors.js';
import type { CreateApiKeyDto } from './dto/api-key.dto.js';
import { ApiKey } from './entities/api-key.entity.js';

/**
 * Whether a caller bound to `projectIds` sees `key`: only keys bound within its own projects (a
 * bound admin key manages its projects' keys and cannot see, make or revoke a wider one).
 */
function sees(projectIds: readonly string[] | null, key: ApiKey): boolean {
  if (projectIds === null) return true;
  if (key.projectIds === null) return false;
  return (JSON.parse(key.projectIds) as string[]).every((id) => projectIds.includes(id));
}

/**
 * Keys as records (SPEC §10). The key is made here and handed back once; the table holds only its
 * SHA-256 digest. Creating and revoking change this process's KeyRing at once; every other
 * process's follows within KEY_RING_REFRESH_MS. A caller bound to projects sees only keys bound
 * within them (others are 404) and makes only such keys (400 otherwise).
 */
@Injectable()
export class ApiKeysService {
  constructor(
    @InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>,
    private readonly ring: KeyRing,
  ) {}

  /** The new record and the key itself, which is not kept. */
  async create(dto: CreateApiKeyDto, caller: Principal): Promise<{ record: ApiKey; key: string }> {
    const bound = caller.projectIds;
    if (bound !== null && !dto.project_ids?.every((id) => bound.includes(id))) {
      throw new BadRequestException([
        "project_ids must be given and stay within this key's own projects",
      ]);
    }
    if (dto.project_ids && dto.scopes.includes('metrics:read')) {
      // /metrics counts every project's attempts, labelled by endpoint: a bound key cannot read it.
      throw new BadRequestException([
        'scopes must not hold metrics:read with project_ids: /metrics covers every project',
      ]);
    }
    const key = newApiKey();
    const record = this.keys.create({
      id: newApiKeyId(),
      name: dto.name,
      keyHash: keyDigest(key),
      prefix: prefixOf(key),
      scopes: JSON.stringify(dto.scopes),
      projectIds: dto.project_ids ? JSON.stringify(dto.project_ids) : null,
      createdAt: new Date().toISOString(),
      lastUsedAt: null,
      revokedAt: null,
    });
    await this.keys.insert(record);
    this.ring.add(record.keyHash, principalOfKey(record));
    return { record, key };
  }

  async list(query: PageQuery, caller: Principal): Promise<ApiKey[]> {
    const bound = caller.projectIds;
    if (bound === null) return this.page(query);
    // A cursor the caller cannot see is no row of its list.
    for (const field of ['after', 'before'] as const) {
      const id = query[field];
      if (id && !(await this.visible(id, bound))) throw new UnknownCursorError(field, id);
    }
    // Keys are few: read on in full pages until the caller's page is full.
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const seen: ApiKey[] = [];
    for (let after = query.after; ;) {
      const rows = await this.page({ ...query, after, limit: MAX_PAGE_SIZE });
      seen.push(...rows.filter((row) => sees(bound, row)));
      if (seen.length >= limit || rows.length < MAX_PAGE_SIZE) return seen.slice(0, limit);
      after = rows.at(-1)!.id;
    }
  }

  private async page(query: PageQuery): Promise<ApiKey[]> {
    return (await applyCursorPage(this.keys.createQueryBuilder('k'), query)).getMany();
  }

  private async visible(id: string, bound: readonly string[]): Promise<boolean> {
    const key = await this.keys.findOneBy({ id });
    return key !== null && sees(bound, key);
  }

  /** The key, if the caller sees it (`caller` left out: the calling key's own record). */
  async findOne(id: string, caller?: Principal): Promise<ApiKey> {
    const key = await this.keys.findOneBy({ id });
    if (!key || (caller && !sees(caller.projectIds, key))) throw new ApiKeyNotFoundError(id);
    return key;
  }

  /**
   * Revokes a key: kept, with `revoked_at`. Revoking a revoked key changes nothing (the first
   * revocation's time stays); an unknown id is a 404.
   */
  async revoke(id: string, caller: Principal): Promise<void> {
    const key = await this.findOne(id, caller);
    if (key.revokedAt === null) {
      // Guarded, so two revocations at once keep the first time.
      await this.keys.update({ id, revokedAt: IsNull() }, { revokedAt: new Date().toISOString() });
    }
    this.ring.remove(key.keyHash);
  }
}
