import { spawn } from 'node:child_process';
import { once } from 'node:events';

export interface KafkaMockCluster {
  /** `host:port` of every mock broker (any one bootstraps a client). */
  brokers: string[];
  /** Ends the cluster (its kcat process); clients connected to it see the brokers go away. */
  stop(): Promise<void>;
  /** kcat's exit (0 after a clean stop). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** kcat's process id. */
  readonly pid: number | undefined;
}

export interface KafkaMockClusterOptions {
  /** Mock brokers in the cluster (default 3). */
  brokers?: number;
  /** How long kcat may take to report the cluster's address (default 10 s). */
  startTimeoutMs?: number;
  /**
   * Run kcat in its own process group, so a terminal's Ctrl-C reaches only the parent, which stops the cluster after
   * the services that use it (`pnpm start:full`).
   */
  detached?: boolean;
}

/**
 * A Kafka cluster for tests: librdkafka's mock cluster, which speaks Kafka's wire protocol (kafkajs produces,
 * consumes and joins consumer groups against it; topics are auto-created with 4 partitions; admin
 * createTopics is not supported). kcat hosts it and logs `bootstrap.servers=...` on stderr; the cluster
 * lives as long as that kcat process. Needs `kcat` (Debian package `kcat`) on the PATH.
 */
export async function startKafkaMockCluster(options: KafkaMockClusterOptions = {}): Promise<KafkaMockCluster> {
  const child = spawn('kcat', ['-b', '127.0.0.1:1', '-X', `test.mock.num.brokers=${options.brokers ?? 3}`, '-d', 'mock', '-C', '-t', '_boot'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: options.detached ?? false,
  });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const exited = once(child, 'exit').then(
    ([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }),
    () => ({ code: null, signal: null }),
  );

  let output = '';
  try {
    const brokers = await new Promise<string[]>((resolve, reject) => {
      const deadline = setTimeout(
        () => reject(new Error(`kcat did not report a mock cluster within ${options.startTimeoutMs ?? 10_000} ms:\n${output.slice(-2000)}`)),
        options.startTimeoutMs ?? 10_000,
      );
      const settle = (fn: () => void): void => {
        clearTimeout(deadline);
        child.stderr.off('data', onData);
        child.off('error', onError);
        child.off('exit', onExit);
        fn();
      };
      const onData = (chunk: Buffer): void => {
        output += chunk.toString('utf8');
        const match = /bootstrap\.servers=(\S+)/.exec(output);
        if (match?.[1]) {
          const list = match[1].split(',').filter((broker) => broker.length > 0);
          settle(() => resolve(list));
        } else if (output.length > 64_000) {
          output = output.slice(-16_000);
        }
      };
      const onError = (error: Error): void =>
        settle(() =>
          reject(
            (error as NodeJS.ErrnoException).code === 'ENOENT'
              ? new Error('kcat is not installed (apt-get install -y kcat): it hosts the Kafka mock cluster the tests use')
              : error,
          ),
        );
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
        settle(() => reject(new Error(`kcat exited (${signal ?? code}) before reporting a mock cluster:\n${output.slice(-2000)}`)));
      child.stderr.on('data', onData);
      child.once('error', onError);
      child.once('exit', onExit);
    });
    // The mock cluster logs every request it serves: keep draining stderr (discarding it) so kcat never blocks.
    child.stderr.resume();

    let stopping: Promise<void> | undefined;
    return {
      brokers,
      exited,
      pid: child.pid,
      stop() {
        stopping ??= (async () => {
          process.off('exit', killOnExit);
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGTERM');
            const forced = setTimeout(() => child.kill('SIGKILL'), 5_000);
            await exited;
            clearTimeout(forced);
          }
        })();
        return stopping;
      },
    };
  } catch (error) {
    process.off('exit', killOnExit);
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
}
