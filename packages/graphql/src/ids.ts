import { z } from 'zod';
import { ErrorCode, SaldoError } from './errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Entity ids are UUIDs (v7 for new rows); anything else is INVALID_ID before any query runs. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export const uuidSchema = z.string().refine(isUuid, { message: 'must be a UUID', params: { code: ErrorCode.InvalidId } });

export function assertUuid(value: string, field: string): string {
  if (!isUuid(value)) throw new SaldoError(ErrorCode.InvalidId, `${field}: must be a UUID`, { field });
  return value;
}
