/**
 * The Compose file works with every Docker Compose v2 and a copied `.env.example` cannot move the gateway's data
 * out of the image's /data; `.dockerignore` keeps local state and secrets out of the build context. Checked
 * statically (no Docker engine on CI).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (f: string) => readFileSync(path.join(root, f), 'utf8');

describe('docker-compose.yml and .env', () => {
  const gateway = () => parse(read('docker-compose.yml')).services.gateway;

  it('uses the env_file syntax every Compose v2 understands (not the 2.24+ path/required form)', () => {
    const envFile: unknown = gateway().env_file;
    const entries = Array.isArray(envFile) ? envFile : [envFile];
    for (const e of entries) expect(typeof e, JSON.stringify(e)).toBe('string');
  });

  it('keeps DATA_DIR at the image\'s /data whatever .env says (environment wins over env_file)', () => {
    expect(read('.env.example')).toMatch(/^DATA_DIR=\.\/\.data$/m);
    expect(gateway().environment.DATA_DIR).toBe('/data');
    expect(read('Dockerfile')).toMatch(/DATA_DIR=\/data/);
  });
});

describe('.dockerignore', () => {
  it('keeps dependencies, local data, secrets and tool state out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
    for (const entry of ['node_modules', '.data', '.env', '.git', '.cache', 'coverage', 'dist']) expect(ignored, entry).toContain(entry);
    expect(ignored).toContain('!.env.example');
  });
});
