import type pg from 'pg';

/**
 * PostgreSQL's COPY protocol on a plain pg.Client, for the shard mover's copy: `COPY (query) TO STDOUT` on the source
 * and `COPY table FROM STDIN` on the target move a batch in the servers' own row format, without a JSON text built on
 * one side and parsed back into rows on the other (the copy's main cost before). A batch is held in memory whole (a few
 * MB): the mover bounds its size, and holding it lets the next batch be read while this one is written. pg has the
 * protocol's messages but no API for it; these are the "submittable" objects pg's Client runs like its own queries
 * (what the pg-copy-streams package does, without a dependency for 60 lines).
 */

/** A COPY's output, the rows in the server's COPY format (binary or text, as the statement asked). */
export interface CopyData {
  data: Buffer;
  /** Rows the server reported. */
  rows: number;
}

/** Runs `COPY ... TO STDOUT` and collects its output. */
export function copyOut(client: pg.Client, sql: string): Promise<CopyData> {
  return new Promise((resolve, reject) => {
    client.query(new CopyOut(sql, (error, result) => (error ? reject(error) : resolve(result!))));
  });
}

/** Runs `COPY ... FROM STDIN` with `data` (a COPY output of the same columns and format); returns the rows copied. */
export function copyIn(client: pg.Client, sql: string, data: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    client.query(new CopyIn(sql, data, (error, rows) => (error ? reject(error) : resolve(rows!))));
  });
}

/** The part of pg's Connection COPY FROM uses (not in @types/pg). */
interface CopyConnection {
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  sendCopyFail(message: string): void;
}

/** Rows of a `COPY n` command tag. */
function copiedRows(message: { text?: string }): number {
  const match = /^COPY (\d+)/.exec(message.text ?? '');
  return match ? Number(match[1]) : 0;
}

/**
 * pg calls handleError (and no longer handleReadyForQuery) when the statement fails, handleReadyForQuery when it is done.
 * The other handlers are there because pg calls them for any active query.
 */
abstract class CopySubmittable {
  protected rows = 0;
  private settled = false;

  constructor(protected readonly text: string) {}

  submit(connection: pg.Connection): void {
    connection.query(this.text);
  }

  handleCommandComplete(message: { text?: string }): void {
    this.rows = copiedRows(message);
  }

  handleReadyForQuery(): void {
    if (this.settled) return;
    this.settled = true;
    this.succeed();
  }

  handleError(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.fail(error);
  }

  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}

  handleCopyInResponse(connection: CopyConnection): void {
    connection.sendCopyFail('unexpected COPY FROM STDIN');
  }

  handleCopyData(_message: { chunk: Buffer }): void {}

  protected abstract succeed(): void;
  protected abstract fail(error: Error): void;
}

class CopyOut extends CopySubmittable {
  private buffer = Buffer.allocUnsafe(1 << 20);
  private length = 0;

  constructor(
    text: string,
    private readonly done: (error: Error | null, result?: CopyData) => void,
  ) {
    super(text);
  }

  /** One message per row. The chunk is a view of pg's read buffer, which it reuses: copied at once. */
  override handleCopyData(message: { chunk: Buffer }): void {
    const { chunk } = message;
    if (this.length + chunk.length > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + chunk.length));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    chunk.copy(this.buffer, this.length);
    this.length += chunk.length;
  }

  protected succeed(): void {
    this.done(null, { data: this.buffer.subarray(0, this.length), rows: this.rows });
  }

  protected fail(error: Error): void {
    this.done(error);
  }
}

/** Largest CopyData message sent (the server takes any split of the stream). */
const CHUNK = 1 << 16;

class CopyIn extends CopySubmittable {
  constructor(
    text: string,
    private readonly data: Buffer,
    private readonly done: (error: Error | null, rows?: number) => void,
  ) {
    super(text);
  }

  override handleCopyInResponse(connection: CopyConnection): void {
    for (let offset = 0; offset < this.data.length; offset += CHUNK) connection.sendCopyFromChunk(this.data.subarray(offset, offset + CHUNK));
    connection.endCopyFrom();
  }

  protected succeed(): void {
    this.done(null, this.rows);
  }

  protected fail(error: Error): void {
    this.done(error);
  }
}
