import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, IsNull, Repository } from 'typeorm';
import { RepeatedPassLog } from '../database/database-unavailable.js';
import { digest } from './api-key.hook.js';
import { ApiKey } from './api-keys/entities/api-key.entity.js';
import type { Principal, Scope } from './principal.js';

/**
 * How often the ring checks the table for a change (one COUNT), and reads the unrevoked keys again
 * when there was one: a key revoked elsewhere is refused within this plus a query, well within
 * SPEC's second.
 */
export const KEY_RING_REFRESH_MS = 250;
/** `last_used_at` moves at most this often per key: a use within it of the last write is not written. */
export const LAST_USED_RESOLUTION_MS = 60_000;

/** SHA-256 of a presented token, as `api_keys.key_hash` holds it. */
export function keyDigest(token: string): string {
  return digest(token).toString('hex');
}

/** A principal of an unrevoked key, as the ring holds it. */
export function principalOfKey(row: Pick<ApiKey, 'id' | 'scopes' | 'projectIds'>): Principal {
  return Object.freeze({
    keyId: row.id,
    scopes: new Set(JSON.parse(row.scopes) as Scope[]),
    projectIds:
      row.projectIds === null ? null : Object.freeze(JSON.parse(row.projectIds) as string[]),
  });
}

/** A change this process made, applied over a refresh that may have read the table before it. */
interface LocalChange {
  seq: number;
  digest: string;
  principal: Principal | null;
}

/**
 * The unrevoked keys, in memory, by the SHA-256 digest of the key: a request's token is hashed and
 * looked up here, so checking a key costs one hash and one map lookup whatever the key, and never a
 * query. Every KEY_RING_REFRESH_MS one small query counts the keys and the revoked ones: both only
 * ever grow, so any creation or revocation, in any process, changes the pair, and the unrevoked
 * keys are then read again; a key revoked through any process is refused by this one within a
 * second. A key created or revoked here applies at once (`add` / `remove`), and survives a
 * refresh that read the table before it.
 * Uses are noted in memory and written as `last_used_at` off the request path, at most once per
 * LAST_USED_RESOLUTION_MS per key.
 */
@Injectable()
export class KeyRing implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(KeyRing.name);
  private readonly passLog = new RepeatedPassLog(this.logger, 'Reading the API keys');
  private byDigest = new Map<string, Principal>();
  /** Invariant: holds every local change made since the current refresh began (seq ≥ its start). */
  private localChanges: LocalChange[] = [];
  private seq = 0;
  /** When each key's `last_used_at` was last written: by this process, or by any as of the last read. */
  private readonly lastUsed = new Map<string, number>();
  private readonly unwrittenUses = new Set<string>();
  /** `total/revoked` as last read: the table changed when it differs. */
  private version = '';
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(@InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>) {}

  async onModuleInit(): Promise<void> {
    await this.refresh();
    this.schedule();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.writeUses().catch((error: unknown) => this.passLog.failed(error));
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** The principal of an unrevoked key given as the SHA-256 digest of its token, noting the use. */
  principalForDigest(digest: string): Principal | null {
    const principal = this.byDigest.get(digest) ?? null;
    if (principal?.keyId) this.noteUse(principal.keyId);
    return principal;
  }

  /** A key created in this process: usable at once. */
  add(digest: string, principal: Principal): void {
    this.change(digest, principal);
  }

  /** A key revoked in this process: refused at once. */
  remove(digest: string): void {
    this.change(digest, null);
  }

  private change(digest: string, principal: Principal | null): void {
    const change = { seq: this.seq++, digest, principal };
    this.localChanges.push(change);
    this.apply(this.byDigest, change);
  }

  private apply(ring: Map<string, Principal>, { digest, principal }: LocalChange): void {
    if (principal) ring.set(digest, principal);
    else ring.delete(digest);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), KEY_RING_REFRESH_MS);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      await this.writeUses();
      if ((await this.readVersion()) !== this.version) await this.refresh();
      this.passLog.succeeded();
    } catch (error) {
      // The ring read last stays in force until the database answers again.
      this.passLog.failed(error);
    } finally {
      this.schedule();
    }
  }

  private async readVersion(): Promise<string> {
    const [counts] = await this.keys
      .createQueryBuilder('k')
      .select('COUNT(*)', 'total')
      .addSelect('COUNT(k.revoked_at)', 'revoked')
      .getRawMany<{ total: number | string; revoked: number | string }>();
    return `${counts.total}/${counts.revoked}`;
  }

  /** Reads every unrevoked key; local changes made since the read began are applied over it. */
  private async refresh(): Promise<void> {
    const start = this.seq;
    // Read before the keys: a change between the two reads is seen again at the next check.
    const version = await this.readVersion();
    const rows = await this.keys.find({
      select: { id: true, keyHash: true, scopes: true, projectIds: true, lastUsedAt: true },
      where: { revokedAt: IsNull() },
    });
    const ring = new Map<string, Principal>();
    for (const row of rows) {
      ring.set(row.keyHash, principalOfKey(row));
      if (row.lastUsedAt) {
        const written = Date.parse(row.lastUsedAt);
        if (written > (this.lastUsed.get(row.id) ?? 0)) this.lastUsed.set(row.id, written);
      }
    }
    // Changes before `start` were committed before the read began, so the rows hold them.
    this.localChanges = this.localChanges.filter((change) => change.seq >= start);
    for (const change of this.localChanges) this.apply(ring, change);
    this.byDigest = ring;
    this.version = version;
  }

  private noteUse(keyId: string): void {
    const now = Date.now();
    if (now - (this.lastUsed.get(keyId) ?? 0) < LAST_USED_RESOLUTION_MS) return;
    this.lastUsed.set(keyId, now);
    this.unwrittenUses.add(keyId);
  }

  /** One UPDATE for every key used since the last write that had not been written for a minute. */
  private async writeUses(): Promise<void> {
    if (this.unwrittenUses.size === 0) return;
    const ids = [...this.unwrittenUses];
    this.unwrittenUses.clear();
    await this.keys.update({ id: In(ids) }, { lastUsedAt: new Date().toISOString() });
  }
}
