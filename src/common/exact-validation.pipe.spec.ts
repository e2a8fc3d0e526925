import { BadRequestException } from '@nestjs/common';
import { StepErrorDto, StepSuccessDto } from '../steps/dto/complete-step.dto.js';
import { ExactValidationPipe, MAX_LISTED_PROBLEMS } from './exact-validation.pipe.js';

describe(ExactValidationPipe.name, () => {
  const sut = new ExactValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
  });
  const body = (metatype: typeof StepErrorDto | typeof StepSuccessDto) =>
    ({ type: 'body', metatype }) as const;
  const names = Object.getOwnPropertyNames(Object.prototype).filter(
    (name) => name !== '__proto__' && name !== 'constructor',
  );

  it('hands free-form values on as given, every key and plain prototypes intact', async () => {
    const inner = Object.fromEntries(names.map((name, i) => [name, i]));
    const details = { ...inner, nested: { ...inner, list: [{ ...inner }] } };
    const given = { error_type: 'E', error_message: 'm', error_details: details };
    const result = (await sut.transform(given, body(StepErrorDto))) as StepErrorDto;
    expect(result).toBeInstanceOf(StepErrorDto);
    expect(result.error_details).toBe(details);
    expect(JSON.parse(JSON.stringify(result.error_details))).toEqual(
      JSON.parse(JSON.stringify(details)),
    );
    for (const object of [details, details.nested, details.nested.list[0]]) {
      expect(Object.getPrototypeOf(object)).toBe(Object.prototype);
      expect(Object.keys(object)).toEqual(expect.arrayContaining(names));
    }
  });

  it('gives prototypes back when validation fails too', async () => {
    const junk = { a: { b: 1 } };
    await expect(
      sut.transform({ error_type: 'E', error_message: 'm', junk }, body(StepErrorDto)),
    ).rejects.toThrow(BadRequestException);
    expect(Object.getPrototypeOf(junk)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(junk.a)).toBe(Object.prototype);
  });

  it('refuses a key of a typed object that the copy would lose, naming its path', async () => {
    const failure = sut.transform({ usage: { valueOf: 1 } }, body(StepSuccessDto));
    await expect(failure).rejects.toThrow(BadRequestException);
    await expect(failure).rejects.toMatchObject({
      response: { message: ['property usage.valueOf should not exist'] },
    });
  });

  it('refuses an array where a typed object belongs, before copying its items', async () => {
    await expect(
      sut.transform({ usage: [{ prompt_tokens: 1 }] }, body(StepSuccessDto)),
    ).rejects.toMatchObject({ response: { message: ['usage must be an object, not an array'] } });
  });

  it(`lists ${MAX_LISTED_PROBLEMS} problems, then how many more`, async () => {
    const unknown = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`u${i}`, i]));
    await expect(sut.transform(unknown, body(StepSuccessDto))).rejects.toMatchObject({
      response: {
        message: [
          ...Array.from(
            { length: MAX_LISTED_PROBLEMS },
            (_, i) => `property u${i} should not exist`,
          ),
          `… and ${25 - MAX_LISTED_PROBLEMS} more problems`,
        ],
      },
    });
  });
});
