/**
 * The end-of-run list of skipped tests (test/reporters/skipped-tests-reporter.ts): a real vitest run of a fixture
 * file with every kind of skip, and the grouping it prints.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { formatSkippedSummary, reasonFromName } from './skipped-tests-reporter.js';

const FIXTURE_ROOT = path.resolve('test/fixtures/skipped-reporter');
const VITEST = path.join(path.dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

describe('skipped-tests reporter', () => {
  it('a real run ends with each skipped test under its reason, after the default output', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [VITEST, 'run', '--root', FIXTURE_ROOT, '--config', path.join(FIXTURE_ROOT, 'vitest.config.ts')],
      { env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, timeout: 60_000 },
    );
    const summary = stdout.slice(stdout.indexOf('Skipped 4 tests:'));
    expect(stdout.indexOf('Tests ')).toBeGreaterThan(-1);
    expect(stdout.indexOf('Tests ')).toBeLessThan(stdout.indexOf('Skipped 4 tests:'));
    expect(summary).toContain('needs FOO_URL: a real foo — 2 tests');
    expect(summary).toContain('sample.fixture.ts › needs a thing (needs FOO_URL: a real foo)');
    expect(summary).toContain('sample.fixture.ts › a suite (needs FOO_URL: a real foo) > inside the suite');
    expect(summary).toContain('needs the moon — 1 test');
    expect(summary).toContain('1 more with no stated reason');
  });

  it('takes the innermost "(needs …)" of a full name, and none when there is none', () => {
    expect(reasonFromName('outer (needs A) > inner (needs B: why)')).toBe('needs B: why');
    expect(reasonFromName('a plain test (for a reason)')).toBeUndefined();
  });

  it('says how to run the tests that need PostgreSQL, and prints nothing when nothing was skipped', () => {
    const text = formatSkippedSummary([
      { file: 'test/a.test.ts', name: 'x (needs TEST_DATABASE_URL)', reason: 'needs TEST_DATABASE_URL' },
    ]);
    expect(text).toContain('Skipped 1 test:');
    expect(text).toContain('npm run test:pg');
    expect(formatSkippedSummary([])).toBe('');
  });
});
