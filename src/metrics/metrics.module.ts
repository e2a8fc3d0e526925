import { Global, Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller.js';
import { StephookMetrics } from './stephook-metrics.js';

/** Prometheus metrics at GET /metrics; global so the dispatcher can record its attempts. */
@Global()
@Module({
  controllers: [MetricsController],
  providers: [StephookMetrics],
  exports: [StephookMetrics],
})
export class MetricsModule {}
