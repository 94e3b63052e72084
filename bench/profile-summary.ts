/**
 * Where a V8 CPU profile (`.cpuprofile`, as `node --cpu-prof` or the inspector's Profiler writes it) spends its
 * self time: top functions, and the same time grouped by npm package / gateway source file / Node internals.
 * Idle samples are left out of the percentages. Also a CLI: `node --import tsx bench/profile-summary.ts [--top=20] <file>…`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

/** A broad bucket for the roll-up: V8 pseudo-frames, native code, Node internals, npm packages, our code. */
function categoryOf(mod: string): string {
  if (mod === '(garbage collector)') return 'garbage collector';
  if (mod.startsWith('(native)')) return 'native code (C++ bindings, syscalls such as writev)';
  if (mod.startsWith('(')) return `V8 ${mod}`;
  if (mod.startsWith('node:')) return 'Node internals (node:*)';
  // Our code as the gateway ran it: compiled (dist/, as `npm start`) or the sources (src/, through tsx).
  if (mod.startsWith('dist/') || mod.startsWith('src/') || mod.startsWith('bench/')) return 'gateway code (dist/ or src/)';
  return 'npm packages';
}

/** Which module a frame belongs to: an npm package, a file of ours, a Node internal, or a V8 pseudo-frame. */
function moduleOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.startsWith('node:')) return url;
  const file = url.replace(/^file:\/\//, '');
  return path.relative(process.cwd(), file) || file;
}

function top<T>(m: Map<T, number>, n: number): [T, number][] {
  return [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

export function summariseProfile(file: string, n = 20): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const hits = new Map<number, number>();
  if (profile.samples?.length) for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  else for (const node of profile.nodes) hits.set(node.id, node.hitCount ?? 0);
  const total = [...hits.values()].reduce((a, b) => a + b, 0);
  const msPerSample = (profile.endTime - profile.startTime) / 1000 / Math.max(1, total);

  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, ProfileNode>();
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node);
  /** The nearest JavaScript caller of a native frame, so `writev` says whose write it was. */
  const frame = (p: ProfileNode) => `${p.callFrame.functionName || '(anonymous)'} — ${moduleOf(p.callFrame.url, '')}`;
  const jsCaller = (node: ProfileNode): string => {
    let nearest: ProfileNode | undefined;
    for (let p = parent.get(node.id); p; p = parent.get(p.id)) {
      if (!p.callFrame.url) continue;
      nearest ??= p;
      // Also name the first caller outside Node itself (whose socket `writev` wrote to, say).
      if (!p.callFrame.url.startsWith('node:')) return nearest === p ? frame(p) : `${frame(nearest)} ← ${frame(p)}`;
    }
    return nearest ? frame(nearest) : '?';
  };
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  const byCategory = new Map<string, number>();
  let idle = 0;
  for (const node of profile.nodes) {
    const h = hits.get(node.id) ?? 0;
    if (!h) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += h;
      continue;
    }
    const mod = moduleOf(url, functionName);
    const where = url ? `${mod}:${lineNumber + 1}` : mod === '(native)' ? `native, called from ${jsCaller(byId.get(node.id)!)}` : mod;
    const key = `${functionName || '(anonymous)'} — ${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + h);
    byModule.set(mod, (byModule.get(mod) ?? 0) + h);
    byCategory.set(categoryOf(mod), (byCategory.get(categoryOf(mod)) ?? 0) + h);
  }
  const busy = total - idle;
  const pct = (h: number) => `${((100 * h) / Math.max(1, busy)).toFixed(1)} %`;
  const lines = [
    `${total} samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s (≈ ${msPerSample.toFixed(2)} ms each); busy ${busy} (${((100 * busy) / Math.max(1, total)).toFixed(0)} %), idle ${idle}. Percentages are of busy samples.`,
    '',
    '| self | category |',
    '|---|---|',
    ...top(byCategory, n).map(([c, h]) => `| ${pct(h)} | ${c} |`),
    '',
    '| self | module (npm package, our file, or Node internal) |',
    '|---|---|',
    ...top(byModule, n).map(([m, h]) => `| ${pct(h)} | ${m} |`),
    '',
    '| self | function — where |',
    '|---|---|',
    ...top(byFunction, n).map(([f, h]) => `| ${pct(h)} | ${f.replaceAll('|', '\\|')} |`),
  ];
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const n = Number(args.find((a) => a.startsWith('--top='))?.slice('--top='.length) ?? 20);
  for (const file of args.filter((a) => !a.startsWith('--'))) console.log(`## ${file}\n\n${summariseProfile(file, n)}\n`);
}
