import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import type { WebhookConfig } from '../../config/webhook.config.js';
import { StephookMetrics } from '../../metrics/stephook-metrics.js';
import { StopDeadline } from '../../stop-deadline.js';
import { DeliveryStore } from '../delivery-store.js';
import type { FairClaim, FairClaimResult } from '../delivery-store.js';
import { signingKeys } from '../endpoints/endpoint.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import { EndpointRegistry } from '../endpoints/endpoint-registry.js';
import { ENDPOINT_DELETED } from '../entities/webhook-delivery.entity.js';
import type {
  DeliveryJob,
  DeliveryRef,
  WebhookDelivery,
} from '../entities/webhook-delivery.entity.js';
import { buildWebhookHeaders } from '../sender/webhook-request.js';
import { AttemptResult, WebhookSender } from '../sender/webhook-sender.js';
import { traceparentOf } from '../../tracing/tracing.js';
import { endAttemptSpan, startAttemptSpan } from './attempt-span.js';
import { DeliveryVerdict, RetryPolicy } from './retry-policy.js';
import { BackgroundPace } from './background-pace.js';
import { EndpointShares } from './endpoint-shares.js';
import { Slots } from './slots.js';
import { WEBHOOK_CONFIG } from '../../config/stephook-config.module.js';

/** How much longer than one attempt's deadline a claim lasts (time to record the attempt). */
const LEASE_MARGIN_MS = 10_000;
/** While paced, how soon the scheduler looks again (the pace may allow more by then). */
const PACED_RECHECK_MS = 50;
/** The part of the slots (1/8) that backlogs and retries leave to first attempts. */
const FIRST_ATTEMPT_SLOTS_PART = 8;
/**
 * With a queue, how long a job whose endpoint has no room here waits before it asks again (plus up
 * to as much at random, so the jobs of a busy endpoint do not all ask at once).
 */
const ROOM_RECHECK_MS = 250;
/** The longest a queued job waits for a rate limit or a probe before it asks again. */
const MAX_QUEUED_WAIT_MS = 5_000;
export interface QueuedOutcome {
  delivery: DeliveryRef;
  verdict: DeliveryVerdict;
}
/** What a queued job came to: its attempts, and what waits for room (SPEC §9 "Isolation"). */
export interface QueuedResult {
  outcomes: QueuedOutcome[];
  /** A step's deliveries whose endpoints had no room now: each gets a job of its own, at `at`. */
  later: { deliveries: DeliveryRef[]; at: number } | null;
  /** The job's one delivery waits for room: the job runs again at this time. */
  waitUntil: number | null;
}

const NOTHING_CLAIMED: FairClaimResult = {
  claimed: [],
  perEndpoint: new Map(),
  moreAt: null,
  closedBreakers: [],
  probes: new Set(),
};

export interface LaunchedDue {
  launched: number;
  moreAt: number | null;
  full: boolean;
}

/** How an attempt was started: an operator's retry, within a slot, as its breaker's probe. */
interface Launch {
  manual: boolean;
  holdsSlot: boolean;
  probe: boolean;
}

/**
 * Runs delivery attempts: each holds a lease on its delivery in the database, taken by one guarded
 * claim, is sent, then recorded with the verdict of the retry policy. Without a queue at most
 * STEP_COMPLETE_CONCURRENCY run at once (`Slots`); with one, the queue's worker bounds them.
 * Isolation (SPEC §9): every claim takes endpoints in turn, each within its room here
 * (`EndpointShares`: its `max_in_flight`, one probe while its breaker is open) and, for a rate
 * limit or an open breaker, what the shared throttle rows grant — so one endpoint's hang, failures
 * or backlog hold at most its own share of the slots.
 * Owns every error: nothing here reaches the step path.
 */
@Injectable()
export class DeliveryDispatcher implements BeforeApplicationShutdown {
  private readonly logger = new Logger(DeliveryDispatcher.name);
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Steps committed in this turn of the event loop, whose first attempts are claimed together. */
  private readonly committedSteps: {
    stepId: string;
    resolve: (leftSome: boolean) => void;
    reject: (error: unknown) => void;
  }[] = [];
  private readonly policy: RetryPolicy;
  readonly slots: Slots;
  readonly shares: EndpointShares;
  /** The pace of background attempts (backlogs, retries) while live traffic flows. */
  private readonly pace: BackgroundPace;
  /** Endpoints whose last claim filled their room: more of theirs may be due. */
  private readonly backlogged = new Set<string>();
  /** The last claim was cut short by the slots it could have: more may be due. */
  private saturated = false;
  private roomFreed: () => void = () => undefined;
  private accepting = true;
  private draining: Promise<void> | null = null;
  /** The stop's drain deadline passed: what still ends here is left to its lease, unrecorded. */
  private abandoned = false;

  constructor(
    @Inject(WEBHOOK_CONFIG) private readonly config: WebhookConfig,
    private readonly store: DeliveryStore,
    private readonly sender: WebhookSender,
    private readonly metrics: StephookMetrics,
    private readonly endpoints: EndpointRegistry,
    private readonly stopDeadline: StopDeadline,
  ) {
    this.policy = new RetryPolicy(config.retryScheduleMs);
    this.slots = new Slots(config.concurrency);
    this.shares = new EndpointShares(config.concurrency);
    this.pace = new BackgroundPace();
  }

  /**
   * The first attempts of what a step's transition wrote, right after its commit: claimed within
   * free slots, together with those of every step committed in the same turn of the event loop (one
   * claim statement for the lot); whatever does not fit waits in the database for the scheduler.
   * Settles once the claim is done and its attempts are under way: true when some may have been
   * left (no free slot, or an endpoint without room here), which another process may take.
   */
  launchForStep(stepId: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.committedSteps.push({ stepId, resolve, reject });
      if (this.committedSteps.length === 1) setImmediate(() => void this.launchCommittedSteps());
    });
  }

  private async launchCommittedSteps(): Promise<void> {
    const steps = this.committedSteps.splice(0);
    this.pace.live();
    try {
      const claim = await this.claimFairly(steps.length * this.deliveriesPerStep, {
        stepIds: steps.map((step) => step.stepId),
      });
      this.launchClaimed(claim);
      for (const step of steps) step.resolve(claim.limited || claim.cutShort);
    } catch (error) {
      for (const step of steps) step.reject(error);
    }
  }

  /**
   * Claims up to `limit` due deliveries across endpoints in turn (never more than free slots, nor
   * any endpoint's room) and starts them. How many; whether it took all it was allowed (more may be
   * due: an attempt that ends calls `onRoomFreed`); when an endpoint held back by its rate limit or
   * breaker may be granted more.
   */
  async launchDue(limit: number): Promise<LaunchedDue> {
    if (this.endpoints.all.length === 0) return { launched: 0, moreAt: null, full: false };
    // Beside other endpoints, backlogs and retries leave the last slots to first attempts, so a
    // claim that finds several endpoints backlogged at once cannot fill every slot with them.
    const enabled = this.endpoints.all.filter((endpoint) => !endpoint.disabled).length;
    const kept = enabled > 1 ? Math.ceil(this.config.concurrency / FIRST_ATTEMPT_SLOTS_PART) : 0;
    const bySlots = Math.min(limit, this.slots.free - kept);
    if (bySlots <= 0) {
      this.saturated = true; // the next attempt to end looks again
      return { launched: 0, moreAt: null, full: true };
    }
    // While live traffic flows, backlogs and retries drain at the pace the event loop allows.
    const allowed = this.pace.allow(bySlots);
    const paced = allowed < bySlots;
    const later = paced ? Date.now() + PACED_RECHECK_MS : null;
    if (allowed <= 0) return { launched: 0, moreAt: later, full: false };
    const claim = await this.claimFairly(allowed, {});
    this.launchClaimed(claim);
    const launched = claim.claimed.length;
    this.pace.giveBack(allowed - launched);
    const full = launched >= allowed;
    if (full && !paced) this.saturated = true;
    const moreAt = paced && full ? Math.min(later!, claim.moreAt ?? Infinity) : claim.moreAt;
    return { launched, moreAt, full: full && !paced };
  }

  /**
   * Called when an attempt ends whose endpoint, or the process, was full at the last claim: due
   * deliveries may be waiting for that room (the scheduler looks). An attempt of an endpoint with
   * nothing more due wakes nobody.
   */
  onRoomFreed(listener: () => void): void {
    this.roomFreed = listener;
  }

  /**
   * A queued job's attempts: the first attempts of a step's deliveries (`stepId`), or one attempt
   * of one delivery — if due and free, or whatever its state when `manual`. Each is claimed first,
   * so a job that arrives twice, or late, sends nothing twice; the claim keeps each endpoint within
   * its room, and what has no room waits (`later`, `waitUntil`). The queue's worker bounds how many
   * run at once. What each attempt came to, for the queue to schedule the next.
   */
  async attemptQueued(job: DeliveryJob): Promise<QueuedResult> {
    const result: QueuedResult = { outcomes: [], later: null, waitUntil: null };
    if (!this.accepting) return result;
    const now = new Date();
    let claimed: WebhookDelivery[];
    let probes: ReadonlySet<string> = new Set();
    const manual = 'manual' in job && job.manual;
    if (manual) {
      const delivery = await this.store.claimAny(job.deliveryId, now, this.leaseUntil());
      claimed = delivery ? [delivery] : [];
      for (const { endpointId } of claimed) this.shares.add(endpointId);
    } else {
      const scope = 'stepId' in job ? { stepIds: [job.stepId] } : { deliveryId: job.deliveryId };
      const claim = await this.claimFairly(this.deliveriesPerStep, scope, { useSlots: false });
      claimed = claim.claimed;
      probes = claim.probes;
      if (claim.limited) {
        // A limit changed meanwhile (a PATCH) is seen within MAX_QUEUED_WAIT_MS.
        const at = Math.min(
          claim.moreAt ?? Date.now() + ROOM_RECHECK_MS * (1 + Math.random()),
          Date.now() + MAX_QUEUED_WAIT_MS,
        );
        if ('stepId' in job) {
          const left = await this.store.unclaimedOfStep(job.stepId, now);
          if (left.length > 0) result.later = { deliveries: left, at };
        } else if (claimed.length === 0 && (await this.store.isDueAndFree(job.deliveryId, now))) {
          result.waitUntil = at;
        }
      }
    }
    const outcomes = await Promise.all(
      claimed.map(async (delivery) => {
        const verdict = await this.launch(delivery, {
          manual,
          holdsSlot: false,
          probe: probes.has(delivery.endpointId),
        });
        const attempted = { id: delivery.id, attemptCount: delivery.attemptCount + 1 };
        return verdict && { delivery: attempted, verdict };
      }),
    );
    result.outcomes = outcomes.filter((outcome) => outcome !== null);
    return result;
  }

  /**
   * One more attempt now, whatever the delivery's state and whether a slot is free (an operator
   * asked); nothing when an attempt on it is under way already (here or in another process).
   */
  async retryNow(deliveryId: string): Promise<void> {
    if (!this.accepting || this.inFlight.has(deliveryId)) return;
    const delivery = await this.store.claimAny(deliveryId, new Date(), this.leaseUntil());
    if (!delivery) return;
    this.shares.add(delivery.endpointId);
    void this.launch(delivery, { manual: true, holdsSlot: false, probe: false });
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.drain();
  }

  /**
   * Takes no new attempts and lets those in flight finish until the stop's drain deadline (the
   * queue's worker calls it before closing, this class's own shutdown hook after). An attempt still
   * on the wire then is abandoned: its delivery keeps its lease, which runs out, and it is sent again
   * by the next process that delivers (at-least-once). Called again, the same drain.
   */
  drain(): Promise<void> {
    this.draining ??= this.drainInFlight();
    return this.draining;
  }

  private async drainInFlight(): Promise<void> {
    this.accepting = false;
    this.pace.close();
    this.slots.close();
    if (this.inFlight.size > 0) {
      this.logger.log(
        `Waiting up to ${this.stopDeadline.drainMsLeft()} ms for ${this.inFlight.size} webhook attempt(s) in flight`,
      );
      const inFlight = Promise.allSettled([...this.inFlight.values()]);
      if (!(await this.stopDeadline.drainWithin(inFlight))) {
        this.abandoned = true;
        this.logger.warn(
          `${this.inFlight.size} webhook attempt(s) did not finish before the stop: they are left ` +
            'pending, and sent again once their leases (STEP_COMPLETE_TIMEOUT_MS + 10 s) run out',
        );
      }
    }
    const unrecorded = this.store.unrecordedCount;
    if (unrecorded > 0) {
      this.logger.error(
        `${unrecorded} webhook attempt(s) were sent but could not be recorded before the stop (the ` +
          'database does not answer): those deliveries will be sent again after their leases run out',
      );
    }
  }

  /** The most deliveries one transition can write: one per endpoint. */
  private get deliveriesPerStep(): number {
    return Math.max(1, this.endpoints.all.length);
  }

  /**
   * Claims fairly (`DeliveryStore.claimFair`) within up to `limit` free slots (unless the queue's
   * worker bounds attempts) and each endpoint's room here, both taken before the claim goes to the
   * database and what it did not fill given back, so neither limit is ever exceeded. `limited`:
   * some endpoint had no room, or was granted less than it had by its rate limit or breaker.
   * `cutShort`: the free slots were fewer than asked for and the claim filled them all.
   */
  private async claimFairly(
    limit: number,
    scope: Pick<FairClaim, 'stepIds' | 'deliveryId'>,
    { useSlots } = { useSlots: true },
  ): Promise<FairClaimResult & { limited: boolean; cutShort: boolean }> {
    const slots = useSlots ? this.slots.take(limit) : limit;
    if (slots === 0) return { ...NOTHING_CLAIMED, limited: true, cutShort: true };
    const endpoints = this.endpoints.all.filter((endpoint) => !endpoint.disabled);
    const rooms = this.shares.reserve(endpoints, slots);
    let gated = endpoints.filter(
      (endpoint) => rooms.has(endpoint.id) && (endpoint.rateLimit !== null || endpoint.breakerOpen),
    );
    const waitForTurn = scope.stepIds !== undefined && gated.length > 0;
    if (waitForTurn) {
      // A step's first attempt to an endpoint with a rate limit or an open breaker would take the
      // next free turn ahead of older deliveries that wait for it: those endpoints are left to
      // the scheduler, which takes each one's oldest first (woken below).
      const passed = new Map(gated.map((endpoint) => [endpoint.id, rooms.get(endpoint.id)!]));
      this.shares.settle(passed, new Map());
      for (const endpoint of gated) rooms.delete(endpoint.id);
      gated = [];
    }
    // Every endpoint known here is listed, those without room (disabled ones too) as 0.
    const listed = new Map(this.endpoints.all.map((endpoint) => [endpoint.id, 0]));
    for (const [endpointId, room] of rooms) listed.set(endpointId, room);
    let result = NOTHING_CLAIMED;
    try {
      if (rooms.size > 0 || scope.stepIds || scope.deliveryId) {
        result = await this.store.claimFair({
          now: new Date(),
          leaseUntil: this.leaseUntil(),
          limit: slots,
          rooms: listed,
          gated,
          ...scope,
        });
      }
    } finally {
      if (useSlots) this.slots.returnUnfilled(slots - result.claimed.length);
      const reserved = new Map<string, number>();
      for (const [endpointId, taken] of result.perEndpoint) {
        // An endpoint not read here yet: its attempt counts from now on.
        if (!listed.has(endpointId)) for (let i = 0; i < taken; i++) this.shares.add(endpointId);
        else reserved.set(endpointId, taken);
      }
      this.shares.settle(rooms, reserved);
    }
    for (const [endpointId, room] of rooms) {
      if ((result.perEndpoint.get(endpointId) ?? 0) >= room) this.backlogged.add(endpointId);
      else this.backlogged.delete(endpointId);
    }
    // Only a claim cut short by the free slots leaves work that a freed slot should look for.
    const cutShort = slots < limit && result.claimed.length >= slots;
    if (useSlots) this.saturated = cutShort;
    if (waitForTurn && useSlots) this.roomFreed();
    // A breaker another process closed: read the endpoints now rather than at the next revision poll.
    if (result.closedBreakers.length > 0) void this.endpoints.reload().catch(() => undefined);
    return {
      ...result,
      limited: rooms.size < endpoints.length || result.moreAt !== null,
      cutShort,
    };
  }

  /** Starts the attempts of a claim made within free slots. */
  private launchClaimed({ claimed, probes }: FairClaimResult): void {
    for (const delivery of claimed) {
      const probe = probes.has(delivery.endpointId);
      void this.launch(delivery, { manual: false, holdsSlot: true, probe });
    }
  }

  /**
   * `holdsSlot`: the attempt gives its slot back when it ends. `probe`: the one attempt its open
   * breaker allowed (its failure spaces the next probe).
   */
  private launch(delivery: WebhookDelivery, how: Launch): Promise<DeliveryVerdict | null> {
    const { holdsSlot } = how;
    // Claimed again while its sent attempt waits to be recorded (the lease ran out in an outage).
    if (this.inFlight.has(delivery.id)) {
      if (holdsSlot) this.slots.returnUnfilled(1);
      this.shares.ended(delivery.endpointId);
      return Promise.resolve(null);
    }
    const attempt = this.attempt(delivery, how).finally(() => {
      this.inFlight.delete(delivery.id);
      const wasFull = this.slots.free === 0;
      if (holdsSlot) this.slots.attemptEnded();
      this.shares.ended(delivery.endpointId);
      const mayBeWaiting = wasFull || this.saturated || this.backlogged.has(delivery.endpointId);
      if (this.accepting && mayBeWaiting) this.roomFreed();
    });
    this.inFlight.set(
      delivery.id,
      attempt.then(() => undefined),
    );
    return attempt;
  }

  /** A claim outlives its attempt, so only a dead process's claim ever runs out. */
  private leaseUntil(): Date {
    return new Date(Date.now() + this.config.timeoutMs + LEASE_MARGIN_MS);
  }

  /**
   * Sends, records and reports one attempt; its verdict, or null if it could not be made. Once sent,
   * the attempt stays in flight until its result is recorded (the store keeps it through a database
   * outage), so this process never sends the same delivery again meanwhile.
   */
  private async attempt(
    delivery: WebhookDelivery,
    { manual, probe }: Launch,
  ): Promise<DeliveryVerdict | null> {
    const fields = { step_id: delivery.stepId, delivery_id: delivery.id };
    let endpoint: Endpoint | undefined;
    try {
      endpoint = await this.endpoints.find(delivery.endpointId);
    } catch (error) {
      this.logger.warn(
        `Webhook delivery ${delivery.id} names an endpoint this process has not seen, and the ` +
          `endpoints cannot be read now (${String(error)}); its lease runs out and it is attempted again`,
        fields,
      );
      return null;
    }
    if (!endpoint || endpoint.disabled) {
      // Disabled or deleted, as this process last read it: the endpoint's committed row decides
      // (held, failed, or still pending when this process is behind). Nothing is sent now.
      const leftAs = await this.store
        .setAside(delivery, ENDPOINT_DELETED)
        .catch((error: unknown) => {
          this.logger.error(
            `Webhook delivery ${delivery.id} could not be set aside`,
            error,
            fields,
          );
          return null;
        });
      if (leftAs === 'pending') await this.endpoints.reload().catch(() => undefined);
      return null;
    }
    const startedAt = new Date();
    const span = startAttemptSpan(delivery, endpoint);
    let result: AttemptResult;
    try {
      result = await this.sender.send({
        url: endpoint.url,
        restricted: endpoint.restricted,
        body: delivery.payload,
        headers: buildWebhookHeaders({
          deliveryId: delivery.id,
          attemptAt: startedAt,
          body: delivery.payload,
          key: endpoint.key,
          signingSecrets: signingKeys(endpoint, startedAt.getTime()),
          extra: endpoint.headers,
          traceparent: span ? traceparentOf(span) : undefined,
        }),
      });
    } catch (error) {
      if (span) endAttemptSpan(span, null, error);
      this.logger.error(`Webhook delivery ${delivery.id} could not be attempted`, error, fields);
      return null;
    }
    if (span) endAttemptSpan(span, result);
    // Ended after the stop gave up on it (often cut by the closing sender): not a real outcome,
    // and its lease already promises another attempt.
    if (this.abandoned) return null;
    this.metrics.recordAttempt(endpoint.id, result.outcome, result.durationMs);
    const verdict = this.policy.verdict(delivery, result, manual);
    // Settles once recorded, however long that takes; until then the attempt stays in flight here.
    await this.store.recordAttempt({ delivery, startedAt, result, verdict, probe });
    this.report(delivery, result, verdict);
    return verdict;
  }

  private report(delivery: WebhookDelivery, result: AttemptResult, verdict: DeliveryVerdict): void {
    const number = delivery.attemptCount + 1;
    const fields = {
      step_id: delivery.stepId,
      delivery_id: delivery.id,
      attempt: number,
      outcome: result.outcome,
      status_code: result.statusCode,
      duration_ms: result.durationMs,
    };
    const subject = `Webhook for step ${delivery.stepId} (${delivery.id}, attempt ${number})`;
    const next =
      verdict.status === 'pending'
        ? `; next attempt at ${verdict.nextAttemptAt.toISOString()}`
        : verdict.status === 'failed'
          ? '; giving up, the delivery is failed'
          : '';
    switch (result.outcome) {
      case 'success':
        this.logger.log(
          `${subject} delivered: HTTP ${result.statusCode} in ${result.durationMs} ms`,
          fields,
        );
        return;
      case 'timeout':
        this.logger.warn(`${subject} timed out: ${result.error}${next}`, fields);
        return;
      case 'http_error':
        this.logger.warn(
          `${subject} failed: HTTP ${result.statusCode} in ${result.durationMs} ms${next}`,
          fields,
        );
        return;
      case 'network_error':
        this.logger.error(`${subject} failed: ${result.error}${next}`, fields);
        return;
    }
  }
}
