import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { OnEvent } from '@nestjs/event-emitter';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { STEP_COMPLETED, StepCompletedEvent } from '../steps/events/step-completed.event.js';
import type { TerminalStepStatus } from '../steps/step-status.js';
import type { Endpoint } from '../webhook/endpoints/endpoint.js';
import { EndpointRegistry } from '../webhook/endpoints/endpoint-registry.js';
import type { AttemptOutcome } from '../webhook/sender/webhook-sender.js';

/**
 * The backlog gauges are recounted when this process has changed a delivery since the last count,
 * and otherwise at most this often (to see other processes' changes): an idle scrape costs nothing.
 */
export const BACKLOG_REFRESH_MS = 5_000;

const MISNAMED_DEFAULT_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];
const TERMINAL_STATUSES: readonly TerminalStepStatus[] = ['success', 'failed', 'cancelled'];
const ATTEMPT_OUTCOMES: readonly AttemptOutcome[] = [
  'success',
  'http_error',
  'timeout',
  'network_error',
];

/** Which way a circuit breaker turned (SPEC §9 "Isolation"). */
export type BreakerTransition = 'open' | 'closed';
const BREAKER_TRANSITIONS: readonly BreakerTransition[] = ['open', 'closed'];

/** What the breaker gauge reads of each endpoint this process knows. */
export type BreakerState = Pick<Endpoint, 'id' | 'breakerOpen'>;

/**
 * The Prometheus metrics of one process: terminal transitions, delivery attempts and their latency,
 * the delivery backlog, each endpoint's circuit breaker, and Node's default process metrics.
 */
@Injectable()
export class StephookMetrics implements OnApplicationBootstrap {
  readonly registry = new Registry();

  private readonly stepsCompleted = new Counter({
    name: 'stephook_steps_completed_total',
    help: 'Steps moved out of pending, by terminal status.',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  private readonly attempts = new Counter({
    name: 'stephook_delivery_attempts_total',
    help: 'Webhook delivery attempts, by endpoint id and outcome (success, http_error, timeout, network_error).',
    labelNames: ['endpoint', 'outcome'] as const,
    registers: [this.registry],
    collect: () => this.forgetDeletedEndpoints(),
  });

  private readonly attemptDuration = new Histogram({
    name: 'stephook_delivery_attempt_duration_seconds',
    help: 'Duration of one webhook delivery attempt, connect to last byte.',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
    registers: [this.registry],
  });

  private readonly endpointsDisabled = new Counter({
    name: 'stephook_endpoints_disabled_total',
    help: 'Webhook endpoints disabled automatically after failing for STEP_COMPLETE_DISABLE_AFTER.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  private readonly purged = new Counter({
    name: 'stephook_retention_deleted_total',
    help: 'Rows deleted because they outlived their retention setting, by rule (deliveries_delivered, deliveries_failed, steps).',
    labelNames: ['rule'] as const,
    registers: [this.registry],
  });

  private readonly breakerTransitions = new Counter({
    name: 'stephook_endpoint_breaker_transitions_total',
    help: 'Circuit breakers of webhook endpoints that this process saw open or close, by endpoint id and to (open, closed).',
    labelNames: ['endpoint', 'to'] as const,
    registers: [this.registry],
    // Each known endpoint's transitions start at 0, so increase() sees its first one.
    collect: () => {
      this.forgetDeletedEndpoints();
      for (const endpoint of this.knownEndpoints()) {
        this.labelledEndpoints.add(endpoint.id);
        for (const to of BREAKER_TRANSITIONS)
          this.breakerTransitions.inc({ endpoint: endpoint.id, to }, 0);
      }
    },
  });

  /** Endpoints that have series here (attempts, breaker transitions). */
  private readonly labelledEndpoints = new Set<string>(['env']);
  /** Whether the registry is known (an app built without the delivery engine has none). */
  private followsEndpoints = false;

  /** The endpoints whose breakers the gauge shows: the registry's, once the app is up. */
  private knownEndpoints: () => readonly BreakerState[] = () => [];

  private backlog: { at: number; counts: Promise<Record<'pending' | 'failed', number>> } | null =
    null;

  /** Counts pending and failed deliveries; the webhook module's store supplies it. */
  private countBacklog: () => Promise<Record<'pending' | 'failed', number>> = () =>
    Promise.resolve({ pending: 0, failed: 0 });

  constructor(private readonly modules: ModuleRef) {
    collectDefaultMetrics({ register: this.registry });
    // Gauges whose names end in _total break Prometheus's naming rules (`promtool check metrics`);
    // each is the sum over the `type` label of its sibling without the suffix, which stays.
    for (const name of MISNAMED_DEFAULT_GAUGES) this.registry.removeSingleMetric(name);
    // Every known label value starts at 0, so rate() has a series from the first scrape.
    for (const status of TERMINAL_STATUSES) this.stepsCompleted.labels({ status }).inc(0);
    for (const outcome of ATTEMPT_OUTCOMES) {
      this.attempts.labels({ endpoint: 'env', outcome }).inc(0);
      this.attemptDuration.zero({ outcome });
    }
    this.endpointsDisabled.labels({ reason: 'failing' }).inc(0);
    for (const rule of ['deliveries_delivered', 'deliveries_failed', 'steps']) {
      this.purged.labels({ rule }).inc(0);
    }
    for (const status of ['pending', 'failed'] as const) {
      const gauge: Gauge = new Gauge({
        name: `stephook_deliveries_${status}`,
        help: `Deliveries now ${status}.`,
        registers: [this.registry],
        // While the database does not answer, the last count stays: the scrape itself still works.
        collect: async () => {
          const counts = await this.backlogCounts().catch(() => null);
          if (counts) gauge.set(counts[status]);
        },
      });
    }
    const breakerOpen: Gauge<'endpoint'> = new Gauge({
      name: 'stephook_endpoint_breaker_open',
      help: 'Whether the circuit breaker of a webhook endpoint is open (1) or closed (0), for every endpoint this process knows.',
      labelNames: ['endpoint'] as const,
      registers: [this.registry],
      // Read from the registry at each scrape, so a deleted endpoint's series goes with it.
      collect: () => {
        breakerOpen.reset();
        for (const endpoint of this.knownEndpoints()) {
          breakerOpen.set({ endpoint: endpoint.id }, endpoint.breakerOpen ? 1 : 0);
        }
      },
    });
  }

  /**
   * Every process, API or worker, runs the delivery engine and its EndpointRegistry, which this
   * global module cannot import (the engine imports it): it is found once the app is built. An
   * app built without the engine (some tests) has no endpoints to show.
   */
  onApplicationBootstrap(): void {
    let registry: EndpointRegistry;
    try {
      registry = this.modules.get(EndpointRegistry, { strict: false });
    } catch {
      return;
    }
    this.showBreakersOf(() => registry.all);
  }

  /** Where the breaker gauge reads the endpoints this process knows. */
  showBreakersOf(endpoints: () => readonly BreakerState[]): void {
    this.knownEndpoints = endpoints;
    this.followsEndpoints = true;
  }

  /**
   * A deleted endpoint's counters go with it (with a thousand endpoints created and deleted, their
   * series would otherwise stay for the life of the process). The environment's always stay.
   */
  private forgetDeletedEndpoints(): void {
    if (!this.followsEndpoints) return;
    const known = new Set(this.knownEndpoints().map((endpoint) => endpoint.id));
    for (const endpoint of this.labelledEndpoints) {
      if (endpoint === 'env' || known.has(endpoint)) continue;
      for (const outcome of ATTEMPT_OUTCOMES) this.attempts.remove({ endpoint, outcome });
      for (const to of BREAKER_TRANSITIONS) this.breakerTransitions.remove({ endpoint, to });
      this.labelledEndpoints.delete(endpoint);
    }
  }

  /** This process saw an endpoint's circuit breaker open or close (the delivery engine says). */
  breakerChanged(endpointId: string, to: BreakerTransition): void {
    this.breakerTransitions.inc({ endpoint: endpointId, to });
    this.labelledEndpoints.add(endpointId);
  }

  @OnEvent(STEP_COMPLETED)
  countStepCompleted(event: StepCompletedEvent): void {
    this.stepsCompleted.inc({ status: event.status });
  }

  /** Where the backlog gauges get their counts (the module that owns deliveries says how). */
  countBacklogWith(count: () => Promise<Record<'pending' | 'failed', number>>): void {
    this.countBacklog = count;
    this.backlog = null;
  }

  /** A delivery was created or changed state here: the next scrape recounts the backlog. */
  backlogChanged(): void {
    this.backlog = null;
  }

  endpointDisabled(reason: 'failing'): void {
    this.endpointsDisabled.inc({ reason });
  }

  recordPurged(rule: string, rows: number): void {
    this.purged.inc({ rule }, rows);
  }

  recordAttempt(endpoint: string, outcome: AttemptOutcome, durationMs: number): void {
    this.attempts.inc({ endpoint, outcome });
    this.labelledEndpoints.add(endpoint);
    this.attemptDuration.observe({ outcome }, durationMs / 1000);
  }

  /** One count shared by both gauges, cached until a local change or BACKLOG_REFRESH_MS. */
  private backlogCounts(): Promise<Record<'pending' | 'failed', number>> {
    if (!this.backlog || Date.now() - this.backlog.at > BACKLOG_REFRESH_MS) {
      const counts = this.countBacklog();
      this.backlog = { at: Date.now(), counts };
      counts.catch(() => (this.backlog = null));
    }
    return this.backlog.counts;
  }
}
