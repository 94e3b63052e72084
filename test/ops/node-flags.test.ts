/** `bin/node-flags.mjs`: which Node runs the gateway with async context frames (the request context without promise hooks). */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { asyncContextFlags } from '../../bin/node-flags.mjs';

const FLAG = '--experimental-async-context-frame';

describe('asyncContextFlags', () => {
  it('adds the flag on Node 22.7+ and 23, where AsyncLocalStorage would otherwise run on promise hooks', () => {
    expect(asyncContextFlags('22.14.0', [])).toEqual([FLAG]);
    expect(asyncContextFlags('22.23.3', [])).toEqual([FLAG]);
    expect(asyncContextFlags('23.11.1', [])).toEqual([FLAG]);
  });

  it('adds nothing where it is the default, unknown, or already given', () => {
    expect(asyncContextFlags('24.1.0', [])).toEqual([]);
    expect(asyncContextFlags('22.6.0', [])).toEqual([]);
    expect(asyncContextFlags('20.20.2', [])).toEqual([]);
    expect(asyncContextFlags('22.14.0', ['--expose-gc', FLAG])).toEqual([]);
  });

  it('names a flag this Node accepts (when it wants one)', () => {
    const flags = asyncContextFlags();
    const run = spawnSync(process.execPath, [...flags, '-e', 'process.exit(0)'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
