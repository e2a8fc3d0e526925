import { ArgumentsHost, Catch, ExceptionFilter, HttpStatus } from '@nestjs/common';
import type { Response } from 'express';
import { DomainError, DomainErrorCode } from './domain-error.js';

const STATUS_BY_CODE: Record<DomainErrorCode, HttpStatus> = {
  not_found: HttpStatus.NOT_FOUND,
  conflict: HttpStatus.CONFLICT,
  invalid: HttpStatus.BAD_REQUEST,
};

const ERROR_NAMES: Record<DomainErrorCode, string> = {
  not_found: 'Not Found',
  conflict: 'Conflict',
  invalid: 'Bad Request',
};

/** Answers a DomainError in Nest's error shape: `{statusCode, message, error}`. */
@Catch(DomainError)
export class DomainErrorFilter implements ExceptionFilter<DomainError> {
  catch(exception: DomainError, host: ArgumentsHost): void {
    const statusCode = STATUS_BY_CODE[exception.code];
    host
      .switchToHttp()
      .getResponse<Response>()
      .status(statusCode)
      .json({ statusCode, message: exception.message, error: ERROR_NAMES[exception.code] });
  }
}
