import type { EntityManager } from '@mikro-orm/postgresql';

/** RE-2026-000123: series, year and the sequence, zero-padded to six digits (longer once past 999,999). */
export function formatDocumentNumber(series: string, year: number, sequence: bigint): string {
  return `${series}-${year}-${sequence.toString().padStart(6, '0')}`;
}

/**
 * Takes the next number of an issuer's series for a year, inside the caller's transaction. The upsert creates the
 * counter on the year's first document and otherwise increments it; either way the counter row stays locked (as by
 * SELECT ... FOR UPDATE) until the transaction ends. Concurrent issuers of the same series queue on that lock and get
 * consecutive numbers; a transaction that rolls back (an error, a lost connection, a crashed process) releases its
 * increment with it, so no number is ever skipped or used twice.
 */
export async function takeNextNumber(tx: EntityManager, issuerId: string, series: string, year: number): Promise<bigint> {
  const [row] = await tx.execute<{ last_value: string }[]>(
    `insert into document_number_counter (issuer_id, series, year, last_value) values (?, ?, ?, 1)
       on conflict (issuer_id, series, year) do update set last_value = document_number_counter.last_value + 1
       returning last_value`,
    [issuerId, series, year],
  );
  return BigInt(row!.last_value);
}
