import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The default output, then which tests were skipped and why (a missing TEST_DATABASE_URL must not pass unseen).
    reporters: ['default', './test/reporters/skipped-tests-reporter.ts'],
    // Each file builds its own apps and databases; two workers fit the 2-core CI machines.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
