/**
 * `npm run db:diff -- --new <name>` (scripts/db-diff.mjs) on a private copy of the repository's schema and
 * migrations in a throwaway git repository: a schema change becomes the expected migration SQL, also when the change
 * was committed without its migration; a second run before that migration is committed is refused.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../helpers/database.js';

const run = promisify(execFile);
const SCRIPT = path.resolve('scripts/db-diff.mjs');
const NEEDS = '(needs TEST_DATABASE_URL: a real PostgreSQL)';
const TIMEOUT = 120_000;

let repo: string;

async function git(...args: string[]): Promise<void> {
  await run('git', ['-c', 'user.email=test@example.com', '-c', 'user.name=test', ...args], { cwd: repo });
}

async function dbDiff(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [SCRIPT, ...args], {
      cwd: repo,
      env: { ...process.env, PRISMA_DIFF_DATABASE_URL: TEST_DATABASE_URL },
      timeout: TIMEOUT,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function addMottoToTeam(): void {
  const file = path.join(repo, 'prisma/schema.prisma');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/^model Team \{\n/m, 'model Team {\n  motto String?\n'));
}

function migrationFolders(): string[] {
  return readdirSync(path.join(repo, 'prisma/migrations')).sort();
}

describe.skipIf(!TEST_DATABASE_URL)(`npm run db:diff ${NEEDS}`, () => {
  beforeAll(async () => {
    repo = mkdtempSync(path.join(os.tmpdir(), 'sb-db-diff-'));
    cpSync('prisma/schema.prisma', path.join(repo, 'prisma/schema.prisma'));
    cpSync('prisma/migrations', path.join(repo, 'prisma/migrations'), { recursive: true });
    await git('init', '-q');
    await git('add', '.');
    await git('commit', '-q', '-m', 'schema and migrations');
  });
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  it('an unchanged schema writes nothing', async () => {
    const before = migrationFolders();
    const result = await dbDiff('--new', 'nothing');
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('no change');
    expect(migrationFolders()).toEqual(before);
  }, TIMEOUT);

  it('a column committed without its migration becomes prisma/migrations/<UTC timestamp>_<name>/migration.sql', async () => {
    addMottoToTeam();
    await git('commit', '-q', '-am', 'a schema change without its migration');
    const result = await dbDiff('--new', 'team_motto');
    expect(result.code, result.stderr).toBe(0);
    const written = result.stdout.trim();
    expect(written).toMatch(/^prisma\/migrations\/\d{14}_team_motto\/migration\.sql$/);
    const sql = readFileSync(path.join(repo, written), 'utf8');
    expect(sql).toMatch(/ALTER TABLE "teams" ADD COLUMN\s+"motto" TEXT;/);
    // Only the change: nothing of the tables the earlier migrations created.
    expect(sql).not.toContain('CREATE TABLE');
  }, TIMEOUT);

  it('refuses a second run while that migration is not committed, and names the bad flag', async () => {
    const again = await dbDiff('--new', 'team_motto_again');
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('uncommitted changes');
    const badName = await dbDiff('--new', 'Team Motto');
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain('--new "Team Motto"');
  }, TIMEOUT);
});
