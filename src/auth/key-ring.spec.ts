import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../database/data-source-options.js';
import { ApiKey } from './api-keys/entities/api-key.entity.js';
import { keyDigest, KeyRing, principalOfKey } from './key-ring.js';

/** On a real SQLite database in memory, migrated as the app's is. */
describe(KeyRing.name, () => {
  let dataSource: DataSource;
  let sut: KeyRing;

  beforeEach(async () => {
    dataSource = await new DataSource({
      ...buildDataSourceOptions({ dialect: 'sqlite', path: ':memory:' } as never),
      entities: [ApiKey],
      migrationsRun: true,
    }).initialize();
    sut = new KeyRing(dataSource.getRepository(ApiKey));
  });
  afterEach(async () => {
    await sut.beforeApplicationShutdown();
    await dataSource.destroy();
  });

  function row(token: string, id = 'key_1'): ApiKey {
    return dataSource.getRepository(ApiKey).create({
      id,
      name: 'k',
      keyHash: keyDigest(token),
      prefix: token.slice(0, 12),
      scopes: JSON.stringify(['steps:read']),
      projectIds: JSON.stringify(['project-1']),
      createdAt: new Date().toISOString(),
      lastUsedAt: null,
      revokedAt: null,
    });
  }

  // The ring's private refresh, as its timer runs it.
  const refresh = () => (sut as unknown as { refresh(): Promise<void> }).refresh();

  it('knows an unrevoked key by the digest of its token, with its scopes and projects', async () => {
    await dataSource.getRepository(ApiKey).insert(row('shk_one'));
    await sut.onModuleInit();
    expect(sut.principalForDigest(keyDigest('shk_one'))).toEqual({
      keyId: 'key_1',
      scopes: new Set(['steps:read']),
      projectIds: ['project-1'],
    });
    expect(sut.principalForDigest(keyDigest('shk_two'))).toBeNull();
  });

  it('keeps a key added while a refresh was reading the table, and a removal made meanwhile', async () => {
    const kept = row('shk_kept', 'key_kept');
    await dataSource.getRepository(ApiKey).insert(kept);
    await sut.onModuleInit();
    const added = row('shk_added', 'key_added');
    // Both changes land after the refresh began: its rows know neither.
    const reading = refresh();
    sut.add(added.keyHash, principalOfKey(added));
    sut.remove(kept.keyHash);
    await reading;
    expect(sut.principalForDigest(keyDigest('shk_added'))?.keyId).toBe('key_added');
    expect(sut.principalForDigest(keyDigest('shk_kept'))).toBeNull();
  });

  it('writes last_used_at once for many uses within a minute, off the request path', async () => {
    await dataSource.getRepository(ApiKey).insert(row('shk_used'));
    await sut.onModuleInit();
    const updates: string[] = [];
    const repository = dataSource.getRepository(ApiKey);
    const update = repository.update.bind(repository);
    (sut as unknown as { keys: { update: typeof update } }).keys.update = (...args) => {
      updates.push(JSON.stringify(args[0]));
      return update(...args);
    };
    for (let i = 0; i < 100; i++) sut.principalForDigest(keyDigest('shk_used'));
    expect(updates).toEqual([]); // nothing on the request path
    await sut.beforeApplicationShutdown(); // writes what was noted, as the timer would
    const stored = await repository.findOneByOrFail({ id: 'key_1' });
    expect(stored.lastUsedAt).toEqual(expect.any(String));
    expect(updates).toHaveLength(1);
    for (let i = 0; i < 100; i++) sut.principalForDigest(keyDigest('shk_used'));
    await sut.beforeApplicationShutdown();
    expect(updates).toHaveLength(1);
  });
});
