import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/**
 * Keys as records (SPEC §10): each with its scopes and projects, stored as the SHA-256 digest of
 * the key (unique: the digest is what a request is looked up by), kept after revocation.
 */
export class CreateApiKeys1764835200000 implements MigrationInterface {
  name = 'CreateApiKeys1764835200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'api_keys',
        columns: [
          { name: 'id', type: 'varchar', length: '40', isPrimary: true },
          { name: 'name', type: 'varchar', length: '200' },
          { name: 'key_hash', type: 'varchar', length: '64', isUnique: true },
          { name: 'prefix', type: 'varchar', length: '16' },
          { name: 'scopes', type: 'text' },
          { name: 'project_ids', type: 'text', isNullable: true },
          { name: 'created_at', type: 'varchar', length: '24' },
          { name: 'last_used_at', type: 'varchar', length: '24', isNullable: true },
          { name: 'revoked_at', type: 'varchar', length: '24', isNullable: true },
        ],
        indices: [{ name: 'idx_api_keys_created_at_id', columnNames: ['created_at', 'id'] }],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('api_keys');
  }
}
