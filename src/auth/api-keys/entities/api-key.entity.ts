import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A key made through `/v1/api-keys` (SPEC §10). The key itself is never stored: only its SHA-256
 * digest, which is what a request's Bearer token is hashed to and looked up by. JSON columns are
 * text, so both dialects read them alike.
 */
@Entity({ name: 'api_keys' })
export class ApiKey {
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  /** SHA-256 of the key, 64 lowercase hex digits. */
  @Column({ name: 'key_hash', type: 'varchar', length: 64 })
  keyHash: string;

  /** The key's first characters (`shk_` and 8), so a user can tell keys apart. */
  @Column({ type: 'varchar', length: 16 })
  prefix: string;

  /** `Scope[]` as JSON. */
  @Column({ type: 'text' })
  scopes: string;

  /** `string[]` as JSON; null: every project. */
  @Column({ name: 'project_ids', type: 'text', nullable: true })
  projectIds: string | null;

  @Column({ name: 'created_at', type: 'varchar', length: 24 })
  createdAt: string;

  @Column({ name: 'last_used_at', type: 'varchar', length: 24, nullable: true })
  lastUsedAt: string | null;

  @Column({ name: 'revoked_at', type: 'varchar', length: 24, nullable: true })
  revokedAt: string | null;
}
