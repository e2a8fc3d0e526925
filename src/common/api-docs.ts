import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiResponse } from '@nestjs/swagger';

/** Nest's error shape, as every 4xx of stephook has it. */
export class ErrorView {
  @ApiProperty({ example: 400 }) statusCode: number;
  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: ['prompt_tokens must be an integer number'],
    description: 'What is wrong, naming the field.',
  })
  message: string | string[];
  @ApiProperty({ example: 'Bad Request' }) error: string;
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad input: the message names the field',
  401: 'API_KEY is set and the Bearer key is missing or wrong',
  404: 'No such resource',
  409: 'Conflicts with the current state',
  413: 'Body over 1 MiB',
  415: 'Content-Type is not application/json',
};

/** Documents the error answers a route can give, each in Nest's error shape. */
export const ApiErrors = (...statuses: number[]) =>
  applyDecorators(
    ...[401, ...statuses].map((status) =>
      ApiResponse({ status, description: ERROR_DESCRIPTIONS[status], type: ErrorView }),
    ),
  );

/** Documents a JSON body route's transport errors on top of its own. */
export const ApiBodyErrors = (...statuses: number[]) => ApiErrors(400, 413, 415, ...statuses);
