// Runs `prisma generate` only when prisma/schema.prisma changed since the last generation, so `npm start` and
// `npm test` stay fast. PRISMA_SCHEMA_ENGINE_BINARY points at any existing file (node itself): generation needs no schema engine,
// but the CLI would otherwise try to download one, which fails on machines without internet access.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const schema = readFileSync(path.join(root, 'prisma/schema.prisma'));
const stamp = path.join(root, 'src/generated/prisma/.schema-hash');
const hash = createHash('sha256').update(schema).digest('hex');
if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) process.exit(0);
execFileSync(process.execPath, [path.join(root, 'node_modules/prisma/build/index.js'), 'generate'], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' },
});
writeFileSync(stamp, hash);
