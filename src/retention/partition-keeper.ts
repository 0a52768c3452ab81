import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import type { RetentionSettings } from '../config.js';

/**
 * In a process that runs no worker (ROLE=api): creates time windows ahead at every sweep interval
 * (hooklane_create_partitions), as the retention sweep does, so publishing keeps a partition to
 * write to while no worker runs. It does nothing when the windows are there already.
 */
export class PartitionKeeper {
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> | undefined;

  constructor(
    private readonly sql: Sql,
    private readonly retention: RetentionSettings,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => void this.keep(), retention.sweepIntervalMs);
    this.timer.unref();
  }

  keep(): Promise<void> {
    this.running ??= (async () => {
      try {
        await this.sql`select hooklane_create_partitions(${this.retention.defaultMs}::bigint, ${this.retention.sweepIntervalMs}::bigint, now())`;
      } catch (error) {
        this.logger.warn({ err: error }, 'creating partitions ahead failed: trying again at the next interval');
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
