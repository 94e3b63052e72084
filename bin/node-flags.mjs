// Node flags the gateway runs with, decided by the Node it runs on. Shared by `bin/switchboard.mjs` and the bench,
// so the bench measures the gateway as `npm start` runs it.
//
// AsyncLocalStorage on Node 22 and 23 is built on promise hooks: once the gateway's request context
// (src/observability/request-context.ts) is in use, every promise the process creates pays a hook call (measured on
// 22.23.3: 2 M awaits in 103 ms without a store, 303 ms inside one). `--experimental-async-context-frame` keeps the
// store in V8's continuation-preserved data instead (the same 2 M awaits: 106 ms); it is the default from Node 24,
// where the flag is not needed.
const FRAME_FLAG = '--experimental-async-context-frame';

/** The flags to add to `node` for the gateway on this Node (none when they are already there or not needed). */
export function asyncContextFlags(version = process.versions.node, present = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]) {
  const [major, minor] = version.split('.').map(Number);
  const supported = (major === 22 && minor >= 7) || major === 23;
  return supported && !present.includes(FRAME_FLAG) ? [FRAME_FLAG] : [];
}
