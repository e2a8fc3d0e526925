import { Controller, Get, Header, Res } from '@nestjs/common';
import { Scoped } from '../auth/access.js';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ApiErrors } from '../common/api-docs.js';
import { StephookMetrics } from './stephook-metrics.js';

@ApiTags('operations')
@ApiBearerAuth()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: StephookMetrics) {}

  @Get()
  @Scoped('metrics:read')
  @ApiOperation({ summary: 'Prometheus metrics (text exposition format)' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text', schema: { type: 'string' } })
  @ApiErrors()
  @Header('cache-control', 'no-store')
  async getMetrics(@Res() response: FastifyReply): Promise<void> {
    const body = await this.metrics.registry.metrics();
    response.type(this.metrics.registry.contentType).send(body);
  }
}
