/**
 * Reads /proc: resident memory and CPU time of the Hooklane process, of the PostgreSQL server
 * (postmaster and its backends) and of the benchmark itself. Linux only; elsewhere the figures
 * come back undefined rather than failing the run.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

interface StatFields {
  ppid: number;
  /** utime + stime, seconds. */
  cpu: number;
  /** cutime + cstime: waited-for children that have exited, seconds. */
  reapedChildrenCpu: number;
}

function readStat(pid: number): StatFields | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: split after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): field n is fields[n - 3].
    const num = (n: number) => Number(fields[n - 3]);
    const tick = clockTicks();
    return { ppid: num(4), cpu: (num(14) + num(15)) / tick, reapedChildrenCpu: (num(16) + num(17)) / tick };
  } catch {
    return undefined;
  }
}

export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return undefined;
  }
}

/** Live child processes of `pid`. */
export function childrenOf(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const children: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat?.ppid === pid) children.push(Number(entry));
  }
  return children;
}

/** VmRSS in MiB, undefined when the process is gone. */
export function rssMb(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by one process (its threads included). */
export function processCpuSeconds(pid: number): number | undefined {
  return readStat(pid)?.cpu;
}

/**
 * CPU seconds of a PostgreSQL server: the postmaster, its live backends, and the backends that
 * have exited (reaped by the postmaster, so counted in its cutime/cstime).
 */
export function postgresCpuSeconds(postmasterPid: number | undefined): number | undefined {
  if (postmasterPid === undefined) return undefined;
  const root = readStat(postmasterPid);
  if (!root) return undefined;
  let total = root.cpu + root.reapedChildrenCpu;
  for (const child of childrenOf(postmasterPid)) total += readStat(child)?.cpu ?? 0;
  return total;
}

/** Samples a process's RSS every `intervalMs`, keeping the peak; follows the pid it is given. */
export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  private pid: number | undefined;
  peakMb = 0;
  /** Peak since the last `resetWindow`. */
  windowPeakMb = 0;
  samples = 0;

  constructor(private readonly intervalMs = 100) {}

  follow(pid: number | undefined): void {
    this.pid = pid;
    if (pid !== undefined) this.sample();
    if (!this.timer) {
      this.timer = setInterval(() => this.sample(), this.intervalMs);
      this.timer.unref();
    }
  }

  resetWindow(): void {
    this.windowPeakMb = 0;
  }

  private sample(): void {
    if (this.pid === undefined) return;
    const rss = rssMb(this.pid);
    if (rss === undefined) return;
    this.samples++;
    if (rss > this.peakMb) this.peakMb = rss;
    if (rss > this.windowPeakMb) this.windowPeakMb = rss;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
