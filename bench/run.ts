/**
 * `npm run bench`: runs every benchmark once and prints a Markdown table to paste into BENCHMARKS.md.
 * Ratios are measured against a baseline in the same run, since these machines are shared and noisy.
 */
import os from 'node:os';
import { benchHandshake } from './handshake.js';

type Bench = [name: string, run: () => Promise<Record<string, unknown>>];
const benches: Bench[] = [['session handshake and memory', () => benchHandshake()]];
try {
  const overhead = await import('./gateway-overhead.js' as string);
  benches.push(['gateway overhead (tools/call)', overhead.benchGatewayOverhead]);
} catch {
  // the tool-server overhead bench arrives with remote tool servers
}

const only = process.argv.slice(2);
console.log(`# Switchboard benchmarks\n\n${new Date().toISOString()} · Node ${process.version} · ${os.cpus().length}× ${os.cpus()[0]?.model ?? 'cpu'} · ${Math.round(os.totalmem() / 2 ** 30)} GiB\n`);
for (const [name, run] of benches) {
  if (only.length && !only.some((o) => name.includes(o))) continue;
  const result = await run();
  console.log(`## ${name}\n\n| metric | value |\n|---|---|`);
  for (const [k, v] of Object.entries(result)) console.log(`| ${k} | ${String(v)} |`);
  console.log('');
}
process.exit(0);
