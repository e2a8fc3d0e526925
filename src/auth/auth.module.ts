import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ScopeGuard } from './access.js';
import { ApiKey } from './api-keys/entities/api-key.entity.js';
import { KeyRing } from './key-ring.js';

/**
 * Who may call what, in every process that serves HTTP (the API, a worker's /metrics): the ring of
 * unrevoked keys that the authentication hook looks tokens up in, and the guard that checks each
 * route's scope.
 */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([ApiKey])],
  providers: [KeyRing, { provide: APP_GUARD, useClass: ScopeGuard }],
  exports: [KeyRing, TypeOrmModule],
})
export class AuthModule {}
