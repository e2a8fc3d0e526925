import { Controller, Get } from '@nestjs/common';
import { OpenRoute } from '../auth/access.js';
import {
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { DeliveriesHealthIndicator } from './deliveries.health.js';

/** @nestjs/terminus's answer: each check `{status: 'up' | 'down', message?}` by name. */
const CHECKS = {
  type: 'object',
  additionalProperties: {
    type: 'object',
    properties: { status: { type: 'string', enum: ['up', 'down'] }, message: { type: 'string' } },
    required: ['status'],
  },
};
const READINESS = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'error'] },
    info: { ...CHECKS, nullable: true },
    error: { ...CHECKS, nullable: true },
    details: CHECKS,
  },
  required: ['status', 'details'],
};

/** Open without the API key: AppModule excludes these paths from ApiKeyMiddleware. */
@ApiTags('operations')
@OpenRoute()
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly deliveries: DeliveriesHealthIndicator,
  ) {}

  /** Liveness: the process runs and answers. */
  @Get('health')
  @ApiOperation({ summary: 'Liveness (no API key needed)' })
  @ApiOkResponse({
    schema: {
      type: 'object',
      properties: { status: { type: 'string', enum: ['ok'] } },
      required: ['status'],
      additionalProperties: false,
    },
  })
  getHealth(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: the database answers and deliveries are being processed; 503 otherwise. */
  @Get('ready')
  @ApiOperation({ summary: 'Readiness: database and delivery processing (no API key needed)' })
  @ApiOkResponse({
    description: 'The database answers and deliveries are processed',
    schema: READINESS,
  })
  @ApiServiceUnavailableResponse({
    description: 'The database does not answer or deliveries are stopped',
    schema: READINESS,
  })
  @HealthCheck()
  getReady() {
    return this.health.check([
      () => this.database.pingCheck('database', { timeout: 1_000 }),
      () => this.deliveries.check('deliveries'),
    ]);
  }
}
