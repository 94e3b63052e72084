/**
 * How many TCP connections a process holds to a port, from `/proc/<pid>/fd` socket inodes and `/proc/net/tcp`:
 * the gateway keeps one per upstream stream it holds open, which is what makes per-call work grow with sessions.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed while we looked
    }
  }
  return inodes;
}

/** Established TCP connections (IPv4 and IPv6) from `pid` to remote `port`. */
export function connectionsTo(pid: number, port: number): number {
  const inodes = socketInodes(pid);
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // f[2] remote address:port, f[3] state (01 = ESTABLISHED), f[9] inode
      if (f[3] === '01' && f[2]?.endsWith(`:${hexPort}`) && inodes.has(f[9] ?? '')) n++;
    }
  }
  return n;
}
