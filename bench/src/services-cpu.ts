import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import pg from 'pg';
import { treeCpuMs } from './proc-cpu.js';

const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time (ms) of one process (all its threads), or undefined once it is gone. */
function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** CPU time (ms) per process of the services topology at one moment; PostgreSQL backends per pid. */
interface CpuSample {
  at: number;
  byService: Record<string, number>;
  postgresBackends: Map<number, number>;
  loadGeneratorMs: number;
}

export interface CpuWindow {
  seconds: number;
  /** CPU ms spent in the window per process group (services, `postgres` = the stack's backends, `redis`, `load generator`). */
  ms: Record<string, number>;
}

/**
 * Where the services topology spends CPU: each service's process tree (from /proc), the PostgreSQL backends serving
 * its databases (pids from pg_stat_activity; a backend that starts in the window counts from zero, one that ends is
 * lost, which the services' long-lived pools make rare), the Redis server (shared with anything else on the machine)
 * and this process (the load generator's worker thread plus the benchmark's own idle loop).
 */
export class ServicesCpuProbe {
  private constructor(
    private readonly client: pg.Client,
    private readonly pids: Record<string, number>,
    private readonly databases: string[],
    private readonly redisPid: number | undefined,
  ) {}

  static async open(postgresUrl: string, pids: Record<string, number>, databaseUrls: string[], redisPid: number | undefined): Promise<ServicesCpuProbe> {
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    const databases = databaseUrls.map((url) => decodeURIComponent(new URL(url).pathname.slice(1)));
    return new ServicesCpuProbe(client, pids, databases, redisPid);
  }

  async sample(): Promise<CpuSample> {
    const { rows } = await this.client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = ANY($1)', [this.databases]);
    const postgresBackends = new Map<number, number>();
    for (const { pid } of rows) {
      const ms = processCpuMs(pid);
      if (ms !== undefined) postgresBackends.set(pid, ms);
    }
    const byService: Record<string, number> = {};
    for (const [service, pid] of Object.entries(this.pids)) byService[service] = treeCpuMs(pid);
    if (this.redisPid !== undefined) byService.redis = processCpuMs(this.redisPid) ?? 0;
    const usage = process.cpuUsage();
    return { at: performance.now(), byService, postgresBackends, loadGeneratorMs: (usage.user + usage.system) / 1000 };
  }

  static window(before: CpuSample, after: CpuSample): CpuWindow {
    const ms: Record<string, number> = {};
    for (const [service, value] of Object.entries(after.byService)) ms[service] = value - (before.byService[service] ?? value);
    let postgres = 0;
    for (const [pid, value] of after.postgresBackends) postgres += value - (before.postgresBackends.get(pid) ?? 0);
    ms.postgres = postgres;
    ms['load generator'] = after.loadGeneratorMs - before.loadGeneratorMs;
    return { seconds: (after.at - before.at) / 1000, ms };
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}

/** The Redis server's process id (INFO server over a plain socket), for the probe; undefined when it does not say. */
export async function redisServerPid(redisUrl: string): Promise<number | undefined> {
  const { hostname, port } = new URL(redisUrl);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || 6379) });
    let text = '';
    const done = (pid: number | undefined): void => {
      socket.destroy();
      resolve(pid);
    };
    socket.setTimeout(2000, () => done(undefined));
    socket.once('error', () => done(undefined));
    socket.on('data', (chunk) => {
      text += chunk.toString('utf8');
      const match = /process_id:(\d+)/.exec(text);
      if (match) done(Number(match[1]));
    });
    socket.write('INFO server\r\n');
  });
}

/** Rounds every figure of a record to two decimals (for report rows). */
export function rounded(values: Record<string, number>, scale = 1): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, Math.round(value * scale * 100) / 100]));
}
