/**
 * CPU time of other processes, read from `/proc/<pid>/stat` (utime + stime, in clock ticks of `getconf CLK_TCK`),
 * and the machine's load: each bench process is measured on its own, so a scenario reports CPU per call per process.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || '100');

/** utime + stime of `pid` in ms, or undefined once it has exited. */
export function processCpuMs(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // fields 14 and 15 of proc(5)
}

/** Machine-wide busy and total jiffies from `/proc/stat`, to tell how much else ran during a phase. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const n = line.trim().split(/\s+/).slice(1).map(Number);
  const total = n.reduce((a, b) => a + b, 0);
  const idle = (n[3] ?? 0) + (n[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

export type CpuSnapshot = { at: number; machine: { busy: number; total: number }; byPid: Map<number, number> };

export function snapshot(pids: Iterable<number>): CpuSnapshot {
  const byPid = new Map<number, number>();
  for (const pid of pids) {
    const ms = processCpuMs(pid);
    if (ms !== undefined) byPid.set(pid, ms);
  }
  return { at: performance.now(), machine: machineCpu(), byPid };
}

/** CPU ms each group of pids used between two snapshots (a pid born in between counts from zero). */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot, pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + Math.max(0, (b.byPid.get(pid) ?? a.byPid.get(pid) ?? 0) - (a.byPid.get(pid) ?? 0)), 0);
}

/** Share of the whole machine's CPU that was busy between two snapshots (all cores, all processes). */
export function machineBusy(a: CpuSnapshot, b: CpuSnapshot): number {
  return (b.machine.busy - a.machine.busy) / Math.max(1, b.machine.total - a.machine.total);
}
