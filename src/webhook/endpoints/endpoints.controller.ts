import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
} from '@nestjs/common';
import { Scoped } from '../../auth/access.js';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { ApiBodyErrors, ApiErrors } from '../../common/api-docs.js';
import { idCursor, ParseIdPipe } from '../../common/id-format.js';
import { PAGE_FIELDS, reportedOwnFirst } from '../../common/cursor-page.js';
import { ApiJsonBody, ApiQueryOf, BodyPipe, QueryPipe } from '../../common/schema-pipe.js';
import { Type } from 'typebox';
import type { Static } from 'typebox';
import { EndpointNotFoundError } from '../webhook.errors.js';
import { CreateEndpointSchema, UpdateEndpointSchema } from './dto/endpoint.dto.js';
import type { CreateEndpointDto, UpdateEndpointDto } from './dto/endpoint.dto.js';
import {
  CreatedEndpointView,
  EndpointSecretView,
  EndpointStatsView,
  EndpointView,
} from './dto/endpoint.view.js';
import type {
  CreatedEndpointJson,
  EndpointSecretJson,
  EndpointStatsJson,
} from './dto/endpoint.view.js';
import { answerOf, listOf } from '../../common/response-schema.js';
import { DeliveryReads } from '../deliveries/delivery-reads.js';
import { ENDPOINT_ID, ENV_ENDPOINT_ID } from './endpoint.js';
import { EndpointRegistry } from './endpoint-registry.js';
import {
  EndpointJson,
  MASKED_HEADER_VALUE,
  maskedHeaderNames,
  presentEndpoint,
  presentEnvironmentEndpoint,
} from './endpoint.presenter.js';
import { CLOSED_BREAKER } from './endpoint-throttles.js';
import { EndpointsService, newestSecret } from './endpoints.service.js';
import { CurrentPrincipal } from '../../auth/principal.js';
import type { Principal } from '../../auth/principal.js';

const DAY_MS = 86_400_000;
const ParseEndpointIdPipe = new ParseIdPipe(ENDPOINT_ID, 'id');

const EndpointIdParam = () =>
  ApiParam({
    name: 'id',
    description: 'The endpoint id; "env" is the environment endpoint (STEP_COMPLETE_WEBHOOK)',
    schema: { type: 'string', pattern: ENDPOINT_ID.pattern.source },
    example: 'ep_0f1e2d3c4b5a69788796a5b4c3d2e1f0',
  });

export const ListEndpointsQuerySchema = reportedOwnFirst(
  Type.Object(
    {
      ...PAGE_FIELDS,
      after: idCursor(ENDPOINT_ID, 'after'),
      before: idCursor(ENDPOINT_ID, 'before'),
    },
    { additionalProperties: false },
  ),
);
export type ListEndpointsQuery = Static<typeof ListEndpointsQuerySchema>;

/** 400 for a header whose value is the mask a view showed: storing it would lose the real one. */
function refuseMaskedHeaderValues(headers: Record<string, string> | null | undefined): void {
  const names = maskedHeaderNames(headers);
  if (names.length === 0) return;
  throw new BadRequestException(
    names.map(
      (name) =>
        `headers "${name}" is "${MASKED_HEADER_VALUE}", the mask views show in place of a value: ` +
        'send the value itself, or leave headers out to keep them',
    ),
  );
}

@ApiTags('webhook endpoints')
@ApiBearerAuth()
@Controller('v1/webhook-endpoints')
export class EndpointsController {
  constructor(
    private readonly endpoints: EndpointsService,
    private readonly registry: EndpointRegistry,
    private readonly reads: DeliveryReads,
  ) {}

  @Post()
  @Scoped('endpoints:write')
  @ApiJsonBody(CreateEndpointSchema)
  @ApiOperation({ summary: 'Create an endpoint; its secret is in the answer' })
  @ApiCreatedResponse(answerOf(CreatedEndpointView))
  @ApiBodyErrors()
  async createEndpoint(
    @Body(new BodyPipe(CreateEndpointSchema)) dto: CreateEndpointDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<CreatedEndpointJson> {
    refuseMaskedHeaderValues(dto.headers);
    const endpoint = await this.endpoints.create(dto, principal.projectIds);
    // A new id has no throttle row yet: its breaker is closed.
    return {
      ...presentEndpoint(endpoint, CLOSED_BREAKER, 'shown'),
      secret: newestSecret(endpoint),
    };
  }

  @Get()
  @Scoped('endpoints:read')
  @ApiQueryOf(ListEndpointsQuerySchema)
  @ApiOperation({
    summary:
      'List endpoints, paged like steps; the environment endpoint (env), when set, opens the first page',
  })
  @ApiOkResponse(listOf(EndpointView))
  @ApiErrors(400)
  async listEndpoints(
    @Query(new QueryPipe(ListEndpointsQuerySchema)) query: ListEndpointsQuery,
    @CurrentPrincipal() principal: Principal,
  ): Promise<EndpointJson[]> {
    const scope = principal.projectIds;
    // A key bound to projects never sees `env`: as a cursor it names no row of its list.
    const environment = scope === null ? this.registry.environmentEndpoint : null;
    const firstPage = !query.after && !query.before;
    if (scope === null && query.after === ENV_ENDPOINT_ID) query.after = undefined;
    if (scope === null && query.before === ENV_ENDPOINT_ID) return [];
    const limit = query.limit ?? undefined;
    if (environment && firstPage && limit !== undefined) query.limit = limit - 1;
    const rows = query.limit === 0 ? [] : await this.endpoints.list(query, scope);
    const withEnvironment = environment && firstPage ? environment : null;
    const breakers = await this.endpoints.breakers([
      ...(withEnvironment ? [withEnvironment.id] : []),
      ...rows.map((row) => row.id),
    ]);
    const listed = rows.map((row) => presentEndpoint(row, breakers.get(row.id)!));
    return withEnvironment
      ? [presentEnvironmentEndpoint(withEnvironment, breakers.get(withEnvironment.id)!), ...listed]
      : listed;
  }

  @Get(':id')
  @Scoped('endpoints:read')
  @ApiOperation({ summary: 'One endpoint' })
  @EndpointIdParam()
  @ApiOkResponse(answerOf(EndpointView))
  @ApiErrors(400, 404)
  async getEndpoint(
    @Param('id', ParseEndpointIdPipe) id: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<EndpointJson> {
    if (id === ENV_ENDPOINT_ID) {
      const environment = principal.projectIds === null ? this.registry.environmentEndpoint : null;
      if (!environment) throw new EndpointNotFoundError(id);
      return presentEnvironmentEndpoint(environment, await this.breakerOf(id));
    }
    const endpoint = await this.endpoints.findOne(id, principal.projectIds);
    return presentEndpoint(endpoint, await this.breakerOf(id));
  }

  @Get(':id/stats')
  @Scoped('endpoints:read')
  @ApiOperation({
    summary:
      "An endpoint's health: deliveries by state, attempts and success rate over 24 h, last failure",
  })
  @EndpointIdParam()
  @ApiOkResponse(answerOf(EndpointStatsView))
  @ApiErrors(400, 404)
  async getEndpointStats(
    @Param('id', ParseEndpointIdPipe) id: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<EndpointStatsJson> {
    await this.getEndpoint(id, principal); // 404 for an endpoint that is not there (or not theirs)
    const stats = await this.reads.endpointStats(
      id,
      new Date(Date.now() - DAY_MS),
      principal.projectIds,
    );
    return {
      endpoint_id: id,
      counts: stats.counts,
      last_24h: {
        attempts: stats.attempts,
        succeeded: stats.succeeded,
        success_rate: stats.attempts ? stats.succeeded / stats.attempts : null,
      },
      last_failure: stats.lastFailure,
    };
  }

  @Patch(':id')
  @Scoped('endpoints:write')
  @ApiJsonBody(UpdateEndpointSchema)
  @ApiOperation({
    summary:
      'Change an endpoint; {disabled: true} holds its deliveries, {disabled: false} releases them',
  })
  @EndpointIdParam()
  @ApiOkResponse(answerOf(EndpointView))
  @ApiBodyErrors(404, 409)
  async updateEndpoint(
    @Param('id', ParseEndpointIdPipe) id: string,
    @Body(new BodyPipe(UpdateEndpointSchema)) dto: UpdateEndpointDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<EndpointJson> {
    refuseMaskedHeaderValues(dto.headers);
    const updated = await this.endpoints.update(id, dto, principal.projectIds);
    return presentEndpoint(
      updated,
      await this.breakerOf(id),
      dto.headers === undefined ? 'masked' : 'shown',
    );
  }

  @Delete(':id')
  @Scoped('endpoints:write')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete an endpoint; what it had not received ends as failed (endpoint deleted)',
  })
  @EndpointIdParam()
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors(400, 404, 409)
  async deleteEndpoint(
    @Param('id', ParseEndpointIdPipe) id: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<void> {
    await this.endpoints.remove(id, principal.projectIds);
  }

  @Get(':id/secret')
  @Scoped('endpoints:write')
  @ApiOperation({ summary: "The endpoint's signing secret (the newest, during a rotation)" })
  @EndpointIdParam()
  @ApiOkResponse(answerOf(EndpointSecretView))
  @ApiErrors(400, 404, 409)
  async getEndpointSecret(
    @Param('id', ParseEndpointIdPipe) id: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<EndpointSecretJson> {
    return { secret: await this.endpoints.secret(id, principal.projectIds) };
  }

  @Post(':id/secret/rotate')
  @Scoped('endpoints:write')
  @HttpCode(200)
  @ApiOperation({
    summary: 'A new secret; the old one keeps signing beside it for 24 h',
    description:
      'A request carries at most 3 signatures: the newest secret and the 2 rotated out most ' +
      'recently, each for 24 h after its own rotation. Rotating a third time within 24 h drops ' +
      'the oldest of them at once.',
  })
  @EndpointIdParam()
  @ApiOkResponse(answerOf(EndpointSecretView))
  @ApiErrors(400, 404, 409)
  async rotateEndpointSecret(
    @Param('id', ParseEndpointIdPipe) id: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<EndpointSecretJson> {
    return { secret: await this.endpoints.rotateSecret(id, principal.projectIds) };
  }

  private async breakerOf(id: string) {
    return (await this.endpoints.breakers([id])).get(id)!;
  }
}
