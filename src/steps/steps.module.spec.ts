import { ALL_PROJECTS } from '../common/project-scope.js';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { bootModules } from '../../test/helpers/boot-modules.js';
import { STEP_COMPLETED, StepCompletedEvent } from './events/step-completed.event.js';
import { StepsModule } from './steps.module.js';
import { StepsService } from './steps.service.js';

/**
 * The boundary of SPEC §1: StepsModule records steps and emits `step.completed`, and needs nothing
 * of WebhookModule to do it. Booted here with only the database and the event bus.
 */
describe(StepsModule.name, () => {
  it('boots and completes a step without WebhookModule, emitting step.completed once', async () => {
    const booted = await bootModules([StepsModule]);
    try {
      const sut = booted.moduleRef.get(StepsService);
      const events: StepCompletedEvent[] = [];
      booted.moduleRef.get(EventEmitter2).on(STEP_COMPLETED, (event: StepCompletedEvent) => {
        events.push(event);
      });

      const step = await sut.create({ agent_id: 'agent-1' }, ALL_PROJECTS);
      await expect(sut.markSucceeded(step.id, {}, ALL_PROJECTS)).resolves.toMatchObject({
        status: 'success',
      });
      await expect(sut.markSucceeded(step.id, {}, ALL_PROJECTS)).resolves.toMatchObject({
        status: 'success',
      });

      // One event for the transition; the repeated call changes nothing and announces nothing.
      expect(events).toEqual([expect.objectContaining({ stepId: step.id, status: 'success' })]);
    } finally {
      await booted.close();
    }
  });
});
