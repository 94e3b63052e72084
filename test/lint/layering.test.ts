/**
 * The layering rules in `eslint.config.js`, run through ESLint's own API on snippets placed (virtually) in each area:
 * an edge (admin routes and router, console, CLI, HTTP app) that reads `.prisma` or imports the generated client is
 * refused; the same code in a service module is not; a domain area importing from `http/` is refused.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// The type-aware rules need files the TypeScript project knows; these snippets are virtual, and the layering rules
// are syntactic, so the project service is off here.
const eslint = new ESLint({
  cwd: root,
  overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } }, rules: { '@typescript-eslint/no-floating-promises': 'off' } },
});

async function layeringErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-syntax' || m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

const memberAccess = 'export async function handle(deps: { db: { prisma: { team: { count(): Promise<number> } } } }) {\n  return deps.db.prisma.team.count();\n}\n';
const destructured = 'export function handle(db: { prisma: unknown }) {\n  const { prisma } = db;\n  return prisma;\n}\n';
const generatedImport = "import { Prisma } from '../generated/prisma/client.js';\nexport const x = Prisma;\n";
const clientTypeImport = "import type { PrismaClient } from '../db/database.js';\nexport type X = PrismaClient;\n";

describe('the edges do not touch the ORM (eslint.config.js)', () => {
  const edges = ['src/admin/routes/example.ts', 'src/admin/admin-router.ts', 'src/console/example-page.ts', 'src/cli/example.ts', 'src/http/example.ts'];

  it.each(edges)('%s: `.prisma` (read or destructured) is refused', { timeout: 60_000 }, async (file) => {
    expect(await layeringErrors(file, memberAccess)).toEqual([expect.stringContaining('edges call the services (src/services.ts), not the ORM')]);
    expect(await layeringErrors(file, destructured)).toEqual([expect.stringContaining('edges call the services')]);
  });

  it.each(edges)('%s: importing the generated client or PrismaClient is refused', { timeout: 60_000 }, async (file) => {
    const depth = file.split('/').length - 2;
    const up = depth === 1 ? '../' : '../'.repeat(depth);
    expect(await layeringErrors(file, generatedImport.replace('../', up))).toEqual([expect.stringContaining('edges call the services')]);
    expect(await layeringErrors(file, clientTypeImport.replace('../', up))).toEqual([expect.stringContaining('edges call the services')]);
  });

  it('a service module and a domain area may use the ORM', { timeout: 60_000 }, async () => {
    for (const file of ['src/admin/example-service.ts', 'src/services.ts', 'src/sessions/example.ts', 'src/teams/example.ts']) {
      expect(await layeringErrors(file, memberAccess)).toEqual([]);
      expect(await layeringErrors(file, generatedImport)).toEqual([]);
    }
  });

  it('a domain area may not import from http/', { timeout: 60_000 }, async () => {
    expect(await layeringErrors('src/teams/example.ts', "import { errorRenderer } from '../http/errors.js';\nexport const x = errorRenderer;\n")).toEqual([
      expect.stringContaining('domain areas do not import from http/'),
    ]);
  });

  it('the code as committed passes: no edge file touches the ORM today', { timeout: 120_000 }, async () => {
    const results = await eslint.lintFiles(edges.map((f) => path.join(root, path.dirname(f))).filter((d, i, all) => all.indexOf(d) === i));
    const layering = results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'no-restricted-syntax' || m.ruleId === 'no-restricted-imports').map((m) => `${r.filePath}:${m.line} ${m.message}`));
    expect(layering).toEqual([]);
  });
});
