import { Module } from '@nestjs/common';
import { AuthModule } from '../auth.module.js';
import { ApiKeysController } from './api-keys.controller.js';
import { ApiKeysService } from './api-keys.service.js';

/** `/v1/api-keys` (SPEC §10): keys as records, managed with the admin scope. */
@Module({
  imports: [AuthModule],
  controllers: [ApiKeysController],
  providers: [ApiKeysService],
})
export class ApiKeysModule {}
