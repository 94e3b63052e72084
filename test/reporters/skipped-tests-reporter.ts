/**
 * A vitest reporter that ends the run with the tests that were skipped and why, so that `npm test` without
 * `TEST_DATABASE_URL` (or without Chromium) cannot pass while quietly running less than it seems. It is added after
 * vitest's default reporter (vitest.config.ts), whose output stays as it is.
 *
 * The reason is what the skipping code said: the note of `ctx.skip(note)`, else the "(needs …)" that our tests put in
 * the name of a skipped test or of one of its suites. Tests skipped for no stated reason (`it.skip`, a `-t` filter)
 * are only counted.
 */
import path from 'node:path';
import type { Reporter, TestCase, TestModule } from 'vitest/node';

export interface SkippedTest {
  file: string;
  name: string;
  reason: string | undefined;
}

/** The last "(needs …)" in a test's full name (suite names included), without the parentheses. */
export function reasonFromName(fullName: string): string | undefined {
  const matches = [...fullName.matchAll(/\((needs [^()]*)\)/g)];
  return matches.at(-1)?.[1];
}

/** What to do about the reasons we know, shown once under the summary. */
function hintFor(reason: string): string | undefined {
  if (reason.includes('TEST_DATABASE_URL')) return 'run `npm run test:pg` (a throwaway database on the local PostgreSQL)';
  if (reason.includes('Chromium')) return 'install Debian\'s Chromium: `apt-get install chromium`';
  return undefined;
}

/** The end-of-run text for these skipped tests; empty when none were skipped. */
export function formatSkippedSummary(skipped: readonly SkippedTest[]): string {
  if (skipped.length === 0) return '';
  const byReason = new Map<string, SkippedTest[]>();
  let unexplained = 0;
  for (const test of skipped) {
    if (test.reason === undefined) {
      unexplained += 1;
      continue;
    }
    byReason.set(test.reason, [...(byReason.get(test.reason) ?? []), test]);
  }
  const lines = [`Skipped ${skipped.length} test${skipped.length === 1 ? '' : 's'}:`];
  for (const [reason, tests] of byReason) {
    const hint = hintFor(reason);
    lines.push(`  ${reason} — ${tests.length} test${tests.length === 1 ? '' : 's'}${hint ? `; to run them, ${hint}` : ''}`);
    for (const test of tests) lines.push(`    ${test.file} › ${test.name}`);
  }
  if (unexplained > 0) lines.push(`  ${unexplained} more with no stated reason (it.skip, or left out by a filter)`);
  return lines.join('\n');
}

function skippedTest(test: TestCase, root: string): SkippedTest {
  const result = test.result();
  const note = result.state === 'skipped' ? result.note : undefined;
  return {
    file: path.relative(root, test.module.moduleId),
    name: test.fullName,
    reason: note ?? reasonFromName(test.fullName),
  };
}

export default class SkippedTestsReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const root = process.cwd();
    const skipped: SkippedTest[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests('skipped')) skipped.push(skippedTest(test, root));
    }
    const text = formatSkippedSummary(skipped);
    if (text) process.stdout.write(`\n${text}\n\n`);
  }
}
