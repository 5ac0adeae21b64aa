// Kafka's ApiError: an error code with an optional message. As in ApiError.fromThrowable, the message is left
// null when it is just the code's default message, so clients show their own text for it.
import { KAFKA_ERRORS, KafkaError, errorInfoForCode } from '../protocol/errors.ts';
import type { ErrorCodeValue } from '../protocol/errors.ts';

export interface ApiError {
  errorCode: number;
  errorMessage: string | null;
}

export const noError: ApiError = Object.freeze({ errorCode: 0, errorMessage: null });

export function apiError(code: ErrorCodeValue, message?: string | null): ApiError {
  const defaultMessage = errorInfoForCode(code)?.message;
  return { errorCode: code, errorMessage: message === undefined || message === defaultMessage ? null : message };
}

/** A KafkaError as an ApiError; anything else is a bug and is rethrown (the connection layer answers it). */
export function toApiError(e: unknown): ApiError {
  if (e instanceof KafkaError) return apiError(e.code, e.message);
  throw e;
}

/** Kafka's default message for a code, for the few places that always send it (`Errors.message()`). */
export function defaultMessage(name: keyof typeof KAFKA_ERRORS): string {
  return KAFKA_ERRORS[name].message;
}
