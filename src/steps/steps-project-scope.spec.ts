import { bootModules, BootedModules } from '../../test/helpers/boot-modules.js';
import { UnknownCursorError } from '../common/cursor-page.js';
import { ALL_PROJECTS, OutsideProjectsError } from '../common/project-scope.js';
import type { ProjectScope } from '../common/project-scope.js';
import type { ListStepsQuery } from './dto/list-steps.query.js';
import type { Step } from './entities/step.entity.js';
import { StepNotFoundError } from './steps.errors.js';
import { StepsModule } from './steps.module.js';
import { StepsService } from './steps.service.js';

const A = ['proj-a'];
const NOWHERE = 'step-00000000-0000-4000-8000-000000000000';
/** A list query as the query pipe hands it over (every filter optional). */
const query = (fields: Partial<ListStepsQuery>) => fields as ListStepsQuery;

/**
 * SPEC §10 on StepsService, on a real SQLite database: a key bound to projects sees and changes
 * only its projects' steps; another project's step (or one of no project) answers exactly as a step
 * that does not exist, by every route, filter and cursor.
 */
describe(`${StepsService.name} within a ProjectScope`, () => {
  let booted: BootedModules;
  let sut: StepsService;
  let a1: Step, a2: Step, b1: Step, none: Step;

  beforeEach(async () => {
    booted = await bootModules([StepsModule]);
    sut = booted.moduleRef.get(StepsService);
    const make = (project_id: string | undefined) =>
      sut.create({ project_id, agent_id: 'agent-shared', run_id: 'run-shared' }, ALL_PROJECTS);
    a1 = await make('proj-a');
    b1 = await make('proj-b');
    none = await make(undefined);
    a2 = await make('proj-a');
    // Distinct creation times, so the expected orders do not hang on ids when two fall in one ms.
    for (const [index, step] of [a1, b1, none, a2].entries()) {
      await booted.dataSource.query('UPDATE steps SET created_at = ? WHERE id = ?', [
        new Date(Date.UTC(2026, 0, 1, 0, 0, index)).toISOString(),
        step.id,
      ]);
    }
  });
  afterEach(() => booted.close());

  /** The call answers for `hidden` what it answers for a step that does not exist. */
  async function refusedAsNowhere(call: (stepId: string) => Promise<unknown>, hidden: string) {
    await expect(call(NOWHERE)).rejects.toThrow(new StepNotFoundError(NOWHERE));
    await expect(call(hidden)).rejects.toThrow(new StepNotFoundError(hidden));
  }

  it('finds its projects’ steps and no other, as if the others did not exist', async () => {
    await expect(sut.findOne(a1.id, A)).resolves.toMatchObject({ id: a1.id });
    for (const hidden of [b1.id, none.id])
      await refusedAsNowhere((id) => sut.findOne(id, A), hidden);
    // No scope: everything, as before keys.
    await expect(sut.findOne(b1.id, ALL_PROJECTS)).resolves.toMatchObject({ id: b1.id });
  });

  it('lists its projects’ steps only, with every filter', async () => {
    const ids = async (fields: Partial<ListStepsQuery>, scope: ProjectScope = A) =>
      (await sut.list(query(fields), scope)).map((step) => step.id);
    await expect(ids({})).resolves.toEqual([a2.id, a1.id]);
    await expect(ids({ project_id: 'proj-b' })).resolves.toEqual([]);
    await expect(ids({ agent_id: 'agent-shared' })).resolves.toEqual([a2.id, a1.id]);
    await expect(ids({ run_id: 'run-shared', order: 'asc' })).resolves.toEqual([a1.id, a2.id]);
    await expect(ids({}, [])).resolves.toEqual([]);
    await expect(ids({}, ['proj-a', 'proj-b'])).resolves.toEqual([a2.id, b1.id, a1.id]);
    await expect(ids({}, ALL_PROJECTS)).resolves.toEqual([a2.id, none.id, b1.id, a1.id]);
  });

  it('refuses a cursor naming another project’s step exactly as one naming no step', async () => {
    for (const field of ['after', 'before'] as const) {
      await expect(sut.list(query({ [field]: NOWHERE }), A)).rejects.toThrow(
        new UnknownCursorError(field, NOWHERE),
      );
      for (const hidden of [b1.id, none.id]) {
        await expect(sut.list(query({ [field]: hidden }), A)).rejects.toThrow(
          new UnknownCursorError(field, hidden),
        );
      }
    }
    // Its own steps still page, past the hidden ones.
    await expect(sut.list(query({ after: a2.id }), A)).resolves.toEqual([
      expect.objectContaining({ id: a1.id }),
    ]);
  });

  it('completes, annotates and measures only its projects’ steps; the others stay untouched', async () => {
    await refusedAsNowhere((id) => sut.markSucceeded(id, {}, A), b1.id);
    await refusedAsNowhere(
      (id) => sut.markFailed(id, { error_type: 'E', error_message: 'm' }, A),
      b1.id,
    );
    await refusedAsNowhere((id) => sut.markCancelled(id, {}, A), none.id);
    await refusedAsNowhere((id) => sut.recordFeedback(id, { feedback: 'negative' }, A), b1.id);
    await refusedAsNowhere((id) => sut.recordMetrics(id, { step_ns: '1' }, A), b1.id);
    await sut.recordMetrics(b1.id, { step_ns: '7' }, ALL_PROJECTS);
    // Whether another project's step has metrics is not told either.
    await refusedAsNowhere((id) => sut.findMetrics(id, A), b1.id);

    expect(await sut.findOne(b1.id, ALL_PROJECTS)).toMatchObject({
      status: 'pending',
      feedback: null,
    });
    expect(await sut.findOne(none.id, ALL_PROJECTS)).toMatchObject({ status: 'pending' });
    await expect(sut.findMetrics(b1.id, ALL_PROJECTS)).resolves.toMatchObject({ stepNs: '7' });

    await expect(sut.markSucceeded(a1.id, {}, A)).resolves.toMatchObject({ status: 'success' });
    await expect(sut.recordFeedback(a1.id, { feedback: 'positive' }, A)).resolves.toMatchObject({
      feedback: 'positive',
    });
    await expect(sut.recordMetrics(a1.id, { step_ns: '9' }, A)).resolves.toMatchObject({
      stepNs: '9',
    });
    await expect(sut.findMetrics(a1.id, A)).resolves.toMatchObject({ stepNs: '9' });
  });

  it('creates steps only within its projects: project_id required, and one of them', async () => {
    await expect(sut.create({}, A)).rejects.toThrow(new OutsideProjectsError('project_id', null));
    await expect(sut.create({ project_id: null }, A)).rejects.toThrow(
      new OutsideProjectsError('project_id', null),
    );
    await expect(sut.create({ project_id: 'proj-b' }, A)).rejects.toThrow(
      new OutsideProjectsError('project_id', 'proj-b'),
    );
    await expect(sut.create({ project_id: 'proj-a' }, A)).resolves.toMatchObject({
      projectId: 'proj-a',
    });
    expect(await sut.list(query({ limit: 1000 }), ALL_PROJECTS)).toHaveLength(5);
  });
});
