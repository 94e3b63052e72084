/**
 * The bench's processes talk over Node's fork IPC channel: the parent sends `{ id, cmd, args }`, the child answers
 * `{ id, result }` or `{ id, error }`, and announces itself once with `{ ready }`. Commands run one at a time per
 * child only if the parent awaits them; nothing here is on a measured path except the two messages framing it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

type Handler = (args: never) => unknown;
type Message = { id: number; cmd: string; args: unknown };
type Reply = { id: number; result?: unknown; error?: string } | { ready: unknown };

export interface BenchChild<Ready> {
  readonly pid: number;
  readonly ready: Ready;
  call<T>(cmd: string, args?: unknown): Promise<T>;
  /** Asks the child to clean up and exit; kills it if it has not within `ms`. */
  stop(ms?: number): Promise<void>;
}

/** Starts `bench/<file>` under tsx with its own Node flags and waits for its `ready` message. */
export function forkBenchChild<Ready>(file: string, opts: { execArgv?: string[]; env?: Record<string, string> } = {}): Promise<BenchChild<Ready>> {
  const path = fileURLToPath(new URL(file, import.meta.url));
  const proc: ChildProcess = fork(path, [], {
    execArgv: ['--import', 'tsx', ...(opts.execArgv ?? [])],
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 2, 2, 'ipc'], // children's logs go to stderr: stdout is the report
  });
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let next = 1;
  return new Promise((resolveReady, rejectReady) => {
    proc.once('exit', (code) => {
      const err = new Error(`${file} exited (${code})`);
      rejectReady(err);
      for (const p of pending.values()) p.reject(err);
    });
    proc.on('message', (m: Reply) => {
      if ('ready' in m) return resolveReady(child(m.ready as Ready));
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.error !== undefined) p?.reject(new Error(`${file}: ${m.error}`));
      else p?.resolve(m.result);
    });
  });

  function child(ready: Ready): BenchChild<Ready> {
    return {
      pid: proc.pid!,
      ready,
      call<T>(cmd: string, args?: unknown) {
        const id = next++;
        return new Promise<T>((resolve, reject) => {
          pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
          proc.send({ id, cmd, args } satisfies Message);
        });
      },
      async stop(ms = 10_000) {
        if (proc.exitCode !== null) return;
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.send({ id: 0, cmd: 'exit', args: undefined } satisfies Message);
        const timer = setTimeout(() => proc.kill('SIGKILL'), ms);
        await exited;
        clearTimeout(timer);
      },
    };
  }
}

/** In a child: answers the parent's commands; `exit` runs `onExit` then ends the process. */
export function serveBenchCommands(ready: unknown, handlers: Record<string, Handler>, onExit: () => Promise<void> = async () => {}): void {
  process.on('message', async (m: Message) => {
    if (m.cmd === 'exit') {
      await onExit().catch((err: unknown) => console.error(err));
      process.exit(0);
    }
    try {
      const handler = handlers[m.cmd];
      if (!handler) throw new Error(`unknown command ${m.cmd}`);
      process.send!({ id: m.id, result: await handler(m.args as never) });
    } catch (err) {
      process.send!({ id: m.id, error: err instanceof Error ? err.message : String(err) });
    }
  });
  // The parent going away must not leave bench servers behind.
  process.on('disconnect', () => void onExit().finally(() => process.exit(0)));
  process.send!({ ready });
}
