import { Controller, Get, INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { AnyKey, OpenRoute, Scoped, ScopeGuard } from './access.js';
import { ADMIN_PRINCIPAL } from './principal.js';
import type { Principal } from './principal.js';

@Controller('probe')
class ProbeController {
  @Get('undeclared')
  undeclared(): string {
    return 'reached';
  }

  @Get('scoped')
  @Scoped('steps:read')
  scoped(): string {
    return 'reached';
  }

  @Get('any-key')
  @AnyKey()
  anyKey(): string {
    return 'reached';
  }
}

@Controller('open')
@OpenRoute()
class OpenController {
  @Get()
  open(): string {
    return 'reached';
  }
}

const READER: Principal = { keyId: 'key_1', scopes: new Set(['steps:read']), projectIds: null };

describe(ScopeGuard.name, () => {
  let app: INestApplication;

  /** A real Nest app with the global guard; the principal is set as the authentication hook sets it. */
  async function boot(principal: Principal | undefined): Promise<NestFastifyApplication> {
    const moduleRef = await Test.createTestingModule({
      controllers: [ProbeController, OpenController],
      providers: [{ provide: APP_GUARD, useClass: ScopeGuard }],
    }).compile();
    const sut = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
      logger: false,
    });
    sut
      .getHttpAdapter()
      .getInstance()
      .addHook('onRequest', (request, _reply, done) => {
        request.principal = principal;
        done();
      });
    await sut.init();
    await sut.getHttpAdapter().getInstance().ready();
    app = sut;
    return sut;
  }

  afterEach(() => app.close());

  const answer = async (sut: NestFastifyApplication, url: string) => {
    const response = await sut.inject({ method: 'GET', url });
    const body =
      response.statusCode === 200 ? response.body : response.json<{ message: string }>().message;
    return [response.statusCode, body];
  };

  it('refuses a route that declares no scope to everyone, API_KEY included: it fails closed', async () => {
    const sut = await boot(ADMIN_PRINCIPAL);
    await expect(answer(sut, '/probe/undeclared')).resolves.toEqual([
      403,
      'This route declares no scope; it answers no key',
    ]);
    await expect(answer(sut, '/probe/scoped')).resolves.toEqual([200, 'reached']);
  });

  it('lets a key with the scope through, and names the scope a key lacks', async () => {
    const sut = await boot({ ...READER, scopes: new Set(['steps:write']) });
    await expect(answer(sut, '/probe/scoped')).resolves.toEqual([
      403,
      'This key lacks the scope steps:read',
    ]);
    await expect(answer(sut, '/probe/any-key')).resolves.toEqual([200, 'reached']);
  });

  it('answers an open route without any principal, and refuses every other route without one', async () => {
    const sut = await boot(undefined);
    await expect(answer(sut, '/open')).resolves.toEqual([200, 'reached']);
    for (const url of ['/probe/scoped', '/probe/any-key', '/probe/undeclared']) {
      await expect(answer(sut, url)).resolves.toEqual([
        401,
        'Authorization: Bearer <API_KEY> is missing or wrong',
      ]);
    }
  });
});
