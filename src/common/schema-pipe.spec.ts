import { BadRequestException } from '@nestjs/common';
import { ListStepsQuerySchema } from '../steps/dto/list-steps.query.js';
import type { ListStepsQuery } from '../steps/dto/list-steps.query.js';
import { StepMetricsSchema } from '../steps/dto/step-metrics.dto.js';
import type { StepMetricsDto } from '../steps/dto/step-metrics.dto.js';
import { StepErrorSchema, StepSuccessSchema } from '../steps/dto/complete-step.dto.js';
import type { StepErrorDto, StepSuccessDto } from '../steps/dto/complete-step.dto.js';
import { MAX_LISTED_PROBLEMS } from './request-schema.js';
import { BodyPipe, QueryPipe } from './schema-pipe.js';

const refusal = (run: () => unknown): unknown => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestException);
    return (error as BadRequestException).getResponse();
  }
  throw new Error('expected a 400');
};

describe(BodyPipe.name, () => {
  const error = new BodyPipe<StepErrorDto>(StepErrorSchema);
  const success = new BodyPipe<StepSuccessDto>(StepSuccessSchema);
  const names = Object.getOwnPropertyNames(Object.prototype).filter(
    (name) => name !== '__proto__' && name !== 'constructor',
  );

  it('hands the body on itself, free-form values with every key', () => {
    const inner = Object.fromEntries(names.map((name, i) => [name, i]));
    const details = { ...inner, nested: { ...inner } };
    const given = { error_type: 'E', error_message: 'm', error_details: details };
    const result = error.transform(given);
    expect(result).toBe(given);
    expect(result.error_details).toBe(details);
    expect(Object.keys(details)).toEqual(expect.arrayContaining(names));
  });

  it('names every refused field in the words and order the API has always used', () => {
    expect(refusal(() => error.transform({ zz: 1, error_details: 1, stop_reason: 'x' }))).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: [
        'property zz should not exist',
        'error_type must be shorter than or equal to 512 characters',
        'error_type must be a string',
        'error_message must be shorter than or equal to 65536 characters',
        'error_message must be a string',
        'error_details must be an object',
        expect.stringMatching(/^stop_reason must be one of the following values: end_turn, /),
      ],
    });
  });

  it('prefixes a nested field with its parent', () => {
    const body = { usage: { prompt_tokens: -1, tokens: 1 } };
    expect(refusal(() => success.transform(body))).toMatchObject({
      message: [
        'usage.property tokens should not exist',
        'usage.prompt_tokens must not be less than 0',
      ],
    });
  });

  it('refuses a nested key named after an Object.prototype member, naming its path', () => {
    expect(refusal(() => success.transform({ usage: { valueOf: 1 } }))).toMatchObject({
      message: ['property usage.valueOf should not exist'],
    });
  });

  it('refuses an array where a typed object belongs, alone', () => {
    expect(refusal(() => success.transform({ usage: [{}], zz: 1 }))).toMatchObject({
      message: ['usage must be an object, not an array'],
    });
  });

  it(`lists ${MAX_LISTED_PROBLEMS} problems, then how many more`, () => {
    const unknown = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`u${i}`, i]));
    expect(refusal(() => success.transform(unknown))).toMatchObject({
      message: [
        ...Array.from({ length: MAX_LISTED_PROBLEMS }, (_, i) => `property u${i} should not exist`),
        `… and ${25 - MAX_LISTED_PROBLEMS} more problems`,
      ],
    });
  });

  it('keeps null, and a nanosecond count as its exact text', () => {
    const metrics = new BodyPipe<StepMetricsDto>(StepMetricsSchema);
    expect(
      metrics.transform({
        step_ns: 5,
        llm_request_ns: '9223372036854775807',
        tool_execution_ns: null,
      }),
    ).toEqual({ step_ns: '5', llm_request_ns: '9223372036854775807', tool_execution_ns: null });
    expect(refusal(() => metrics.transform({ step_ns: '9223372036854775808' }))).toMatchObject({
      message: [
        'step_ns must be a non-negative 64-bit integer (a JSON integer or a decimal string)',
      ],
    });
  });

  it('takes an empty body as {}', () => {
    expect(success.transform(undefined)).toEqual({});
  });
});

describe(QueryPipe.name, () => {
  const list = new QueryPipe<ListStepsQuery>(ListStepsQuerySchema);

  it('reads integers, booleans, lists and timestamps explicitly, without touching the given query', () => {
    const given = { limit: '05', has_feedback: 'false', tags: 'a', start_date: '2026-11-28' };
    expect(list.transform(given)).toEqual({
      limit: 5,
      has_feedback: false,
      tags: ['a'],
      start_date: '2026-11-28T00:00:00.000Z',
    });
    expect(given.limit).toBe('05');
  });

  it('refuses what is not plain, naming the field', () => {
    expect(refusal(() => list.transform({ limit: '1e3' }))).toMatchObject({
      message: ['limit must be an integer from 1 to 1000'],
    });
    expect(
      refusal(() => list.transform({ limit: ['1', '2'], has_feedback: 'TRUE', zz: '1' })),
    ).toMatchObject({
      message: [
        'property zz should not exist',
        'has_feedback must be true or false',
        'limit must be given once',
      ],
    });
  });
});
