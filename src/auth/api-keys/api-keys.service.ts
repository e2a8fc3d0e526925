import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import { applyCursorPage, PageQuery } from '../../common/cursor-page.js';
import { keyDigest, KeyRing, principalOfKey } from '../key-ring.js';
import { newApiKey, newApiKeyId, prefixOf } from './api-key-id.js';
import { ApiKeyNotFoundError } from './api-keys.errors.js';
import type { CreateApiKeyDto } from './dto/api-key.dto.js';
import { ApiKey } from './entities/api-key.entity.js';

/**
 * Keys as records (SPEC §10). The key is made here and handed back once; the table holds only its
 * SHA-256 digest. Creating and revoking change this process's KeyRing at once; every other
 * process's follows within KEY_RING_REFRESH_MS.
 */
@Injectable()
export class ApiKeysService {
  constructor(
    @InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>,
    private readonly ring: KeyRing,
  ) {}

  /** The new record and the key itself, which is not kept. */
  async create(dto: CreateApiKeyDto): Promise<{ record: ApiKey; key: string }> {
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

  async list(query: PageQuery): Promise<ApiKey[]> {
    return (await applyCursorPage(this.keys.createQueryBuilder('k'), query)).getMany();
  }

  async findOne(id: string): Promise<ApiKey> {
    const key = await this.keys.findOneBy({ id });
    if (!key) throw new ApiKeyNotFoundError(id);
    return key;
  }

  /**
   * Revokes a key: kept, with `revoked_at`. Revoking a revoked key changes nothing (the first
   * revocation's time stays); an unknown id is a 404.
   */
  async revoke(id: string): Promise<void> {
    const key = await this.findOne(id);
    if (key.revokedAt === null) {
      // Guarded, so two revocations at once keep the first time.
      await this.keys.update({ id, revokedAt: IsNull() }, { revokedAt: new Date().toISOString() });
    }
    this.ring.remove(key.keyHash);
  }
}
