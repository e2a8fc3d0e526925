import { ALL_PROJECTS } from '../common/project-scope.js';
import { bootModules, BootedModules } from '../../test/helpers/boot-modules.js';
import { parseDeliveryConfig } from '../config/delivery.config.js';
import { TransactionRunner } from '../database/transaction-runner.js';
import { StepsModule } from '../steps/steps.module.js';
import { StepsService } from '../steps/steps.service.js';
import { DeliveryEngineModule } from './delivery-engine.module.js';
import { DeliveryStore } from './delivery-store.js';
import type { FairClaim } from './delivery-store.js';
import { DeliveryScheduler } from './dispatch/delivery-scheduler.js';

const A = 'ep_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const B = 'ep_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const C = 'ep_cccccccccccccccccccccccccccccccc';

/** The fair claim (SPEC §9 "Isolation") on a real database: which deliveries it takes, in what turn. */
describe('DeliveryStore.claimFair', () => {
  let booted: BootedModules;
  let store: DeliveryStore;

  beforeEach(async () => {
    booted = await bootModules(
      [StepsModule, DeliveryEngineModule.register(parseDeliveryConfig({}), true)],
      { STEP_COMPLETE_WEBHOOK: '' },
    );
    store = booted.moduleRef.get(DeliveryStore);
    booted.moduleRef.get(DeliveryScheduler).beforeApplicationShutdown();
  });
  afterEach(() => booted.close());

  /** `count` steps, each with one pending delivery to each of `endpoints`, due in step order. */
  async function backlog(count: number, endpoints: string[]): Promise<string[]> {
    const steps: string[] = [];
    for (let i = 0; i < count; i++) {
      const step = await booted.moduleRef.get(StepsService).create({}, ALL_PROJECTS);
      await booted.moduleRef.get(TransactionRunner).run((manager) =>
        store.create(
          manager,
          step,
          endpoints.map((endpointId) => ({ endpointId, payload: '{}', held: false })),
          new Date(Date.now() - (count - i) * 1000),
        ),
      );
      steps.push(step.id);
    }
    return steps;
  }

  const claim = (rooms: [string, number][], limit: number, scope: Partial<FairClaim> = {}) =>
    store.claimFair({
      now: new Date(),
      leaseUntil: new Date(Date.now() + 60_000),
      limit,
      rooms: new Map(rooms),
      gated: [],
      ...scope,
    });

  it('takes endpoints in turn, not in global due order: a backlog cannot crowd out a newcomer', async () => {
    await backlog(50, [A]);
    await backlog(2, [B]);
    const { claimed, perEndpoint } = await claim(
      [
        [A, 16],
        [B, 16],
      ],
      6,
    );
    expect(perEndpoint).toEqual(
      new Map([
        [A, 4],
        [B, 2],
      ]),
    );
    // Each endpoint's oldest first.
    const ofA = claimed.filter((delivery) => delivery.endpointId === A);
    expect(ofA.map((delivery) => delivery.nextAttemptAt)).toEqual(
      [...ofA.map((delivery) => delivery.nextAttemptAt)].sort(),
    );
  });

  it('keeps each endpoint within its room and leaves out endpoints with none', async () => {
    await backlog(20, [A, B, C]);
    const { perEndpoint } = await claim(
      [
        [A, 3],
        [B, 1],
      ],
      64,
    );
    expect(perEndpoint).toEqual(
      new Map([
        [A, 3],
        [B, 1],
      ]),
    );
    // What is leased is not claimed again; the rest of each backlog is.
    const again = await claim(
      [
        [A, 50],
        [B, 50],
        [C, 50],
      ],
      64,
    );
    expect(again.perEndpoint).toEqual(
      new Map([
        [A, 17],
        [B, 19],
        [C, 20],
      ]),
    );
  });

  it("claims only the given steps' deliveries, in turn across their endpoints", async () => {
    await backlog(10, [A]);
    const steps = await backlog(3, [A, B]);
    const { claimed } = await claim(
      [
        [A, 16],
        [B, 16],
      ],
      4,
      { stepIds: steps },
    );
    expect(claimed.every((delivery) => steps.includes(delivery.stepId))).toBe(true);
    expect(claimed.filter((delivery) => delivery.endpointId === B)).toHaveLength(2);
  });

  it('takes one delivery of an endpoint it has not read yet in a scoped claim, none of one without room', async () => {
    const steps = await backlog(1, [A, B, C, 'env']);
    const { perEndpoint } = await claim(
      [
        [A, 0],
        [B, 5],
      ],
      10,
      { stepIds: steps },
    );
    // C is unknown here (created elsewhere a moment ago); env is off (STEP_COMPLETE_WEBHOOK unset).
    expect(perEndpoint).toEqual(
      new Map([
        [B, 1],
        [C, 1],
      ]),
    );
  });
});
