import { ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { parseStephookConfig } from './stephook-config.js';
import { StephookConfigModule, WEBHOOK_CONFIG } from './stephook-config.module.js';

describe(StephookConfigModule.name, () => {
  it('serves the one parsed configuration through ConfigService, and no variable beside it', async () => {
    const config = parseStephookConfig({
      STEP_COMPLETE_WEBHOOK: 'http://127.0.0.1:4000/hook',
      STEP_COMPLETE_KEY: 'receiver-key',
    });
    process.env.STEPHOOK_MODULE_SPEC_STRAY = 'from the environment';
    try {
      const module = await Test.createTestingModule({
        imports: [StephookConfigModule.forRoot(config)],
      }).compile();
      const service = module.get<ConfigService<Record<string, unknown>, true>>(ConfigService);

      expect(module.get(WEBHOOK_CONFIG)).toBe(config.webhook);
      expect(service.get('webhook')).toBe(config.webhook);
      expect(module.get(WEBHOOK_CONFIG)).toMatchObject({ key: 'receiver-key' });
      expect(service.get('STEPHOOK_MODULE_SPEC_STRAY')).toBeUndefined();
      await module.close();
    } finally {
      delete process.env.STEPHOOK_MODULE_SPEC_STRAY;
    }
  });
});
