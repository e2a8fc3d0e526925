import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { Type } from 'typebox';
import type { Static } from 'typebox';
import { ApiBodyErrors, ApiErrors } from '../../common/api-docs.js';
import { PAGE_FIELDS, reportedOwnFirst } from '../../common/cursor-page.js';
import { idCursor, ParseIdPipe } from '../../common/id-format.js';
import { answerOf, listOf } from '../../common/response-schema.js';
import { ApiJsonBody, ApiQueryOf, BodyPipe, QueryPipe } from '../../common/schema-pipe.js';
import { AnyKey, Scoped } from '../access.js';
import { CurrentPrincipal, SCOPES } from '../principal.js';
import type { Principal } from '../principal.js';
import { API_KEY_ID } from './api-key-id.js';
import { presentApiKey } from './api-key.presenter.js';
import { ApiKeysService } from './api-keys.service.js';
import { CreateApiKeySchema } from './dto/api-key.dto.js';
import type { CreateApiKeyDto } from './dto/api-key.dto.js';
import { ApiKeyView, CreatedApiKeyView, CurrentApiKeyView } from './dto/api-key.view.js';
import type { ApiKeyJson, CreatedApiKeyJson, CurrentApiKeyJson } from './dto/api-key.view.js';

const ParseApiKeyIdPipe = new ParseIdPipe(API_KEY_ID, 'id');

const ApiKeyIdParam = () =>
  ApiParam({
    name: 'id',
    description: 'The key id',
    schema: { type: 'string', pattern: API_KEY_ID.pattern.source },
    example: 'key_0f1e2d3c4b5a69788796a5b4c3d2e1f0',
  });

export const ListApiKeysQuerySchema = reportedOwnFirst(
  Type.Object(
    {
      ...PAGE_FIELDS,
      after: idCursor(API_KEY_ID, 'after'),
      before: idCursor(API_KEY_ID, 'before'),
    },
    { additionalProperties: false },
  ),
);
export type ListApiKeysQuery = Static<typeof ListApiKeysQuerySchema>;

/** What API_KEY (or an API without one) is, shaped as a key's record. */
const API_KEY_RECORD: CurrentApiKeyJson = {
  id: null,
  prefix: null,
  name: 'API_KEY',
  scopes: [...SCOPES],
  project_ids: null,
  created_at: null,
  last_used_at: null,
  revoked_at: null,
};

@ApiTags('api keys')
@ApiBearerAuth()
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @Scoped('admin')
  @ApiJsonBody(CreateApiKeySchema)
  @ApiOperation({ summary: 'Create a key; the key itself is in this answer only' })
  @ApiCreatedResponse(answerOf(CreatedApiKeyView))
  @ApiBodyErrors()
  async createApiKey(
    @Body(new BodyPipe(CreateApiKeySchema)) dto: CreateApiKeyDto,
  ): Promise<CreatedApiKeyJson> {
    const { record, key } = await this.keys.create(dto);
    const { id, ...rest } = presentApiKey(record);
    return { id, key, ...rest };
  }

  @Get()
  @Scoped('admin')
  @ApiQueryOf(ListApiKeysQuerySchema)
  @ApiOperation({ summary: 'List keys, revoked ones included, paged like steps' })
  @ApiOkResponse(listOf(ApiKeyView))
  @ApiErrors(400)
  async listApiKeys(
    @Query(new QueryPipe(ListApiKeysQuerySchema)) query: ListApiKeysQuery,
  ): Promise<ApiKeyJson[]> {
    return (await this.keys.list(query)).map(presentApiKey);
  }

  @Get('current')
  @AnyKey()
  @ApiOperation({
    summary: "The calling key's own record: what it may do and see",
    description:
      'Any valid key may read its own record. API_KEY, and every request while API_KEY is empty, ' +
      'answers a record with id null, name "API_KEY", every scope and project_ids null.',
  })
  @ApiOkResponse(answerOf(CurrentApiKeyView))
  @ApiErrors()
  async getCurrentApiKey(@CurrentPrincipal() principal: Principal): Promise<CurrentApiKeyJson> {
    if (principal.keyId === null) return API_KEY_RECORD;
    return presentApiKey(await this.keys.findOne(principal.keyId));
  }

  @Get(':id')
  @Scoped('admin')
  @ApiOperation({ summary: 'One key (never the key itself)' })
  @ApiKeyIdParam()
  @ApiOkResponse(answerOf(ApiKeyView))
  @ApiErrors(400, 404)
  async getApiKey(@Param('id', ParseApiKeyIdPipe) id: string): Promise<ApiKeyJson> {
    return presentApiKey(await this.keys.findOne(id));
  }

  @Delete(':id')
  @Scoped('admin')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Revoke a key: every process refuses it within a second; it stays listed',
    description: 'Revoking a revoked key answers 204 again and keeps the first revoked_at.',
  })
  @ApiKeyIdParam()
  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiErrors(400, 404)
  async revokeApiKey(@Param('id', ParseApiKeyIdPipe) id: string): Promise<void> {
    await this.keys.revoke(id);
  }
}
