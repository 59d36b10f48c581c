import { ErrorCode, SaldoError } from '@saldo/graphql';

/** usage-forecast's stable error codes (extensions.code), beside the platform-wide ones in @saldo/graphql. */
export const ForecastErrorCode = {
  /** `days` of a forecast outside 1-90. */
  DaysOutOfRange: 'DAYS_OUT_OF_RANGE',
  /** No fraud case has the given id. */
  FraudCaseNotFound: 'FRAUD_CASE_NOT_FOUND',
} as const;
export type ForecastErrorCode = (typeof ForecastErrorCode)[keyof typeof ForecastErrorCode];

export function forecastError(code: ForecastErrorCode | ErrorCode, message: string, details: Record<string, unknown> = {}): SaldoError {
  return new SaldoError(code as string as ErrorCode, message, details);
}
