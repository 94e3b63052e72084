/**
 * No Docker engine runs on CI machines, so the deployment files are checked statically: docker-compose.yml parses,
 * runs PostgreSQL 16 and the gateway with health checks and the variables the gateway requires; the Dockerfile is
 * multi-stage and runs as a non-root user; .env.example documents every variable of docs/interface.md §2.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (f: string) => readFileSync(path.join(root, f), 'utf8');

const CONTRACT_VARIABLES = [
  'PORT', 'HOST', 'PUBLIC_URL', 'DATABASE_URL', 'DATA_DIR', 'AUTH_MODE', 'AUTH_ISSUER', 'AUTH_JWKS_URL', 'AUTH_AUDIENCE',
  'LOGIN_OIDC_ISSUER', 'LOGIN_OIDC_CLIENT_ID', 'LOGIN_OIDC_CLIENT_SECRET', 'DEV_LOGIN', 'ADMIN_API_KEY', 'ADMIN_EMAILS',
  'ENCRYPTION_KEY', 'CHAT_ID_HEADER', 'SESSION_IDLE_TTL', 'SESSION_MAX_AGE', 'CORS_ORIGINS', 'LOG_LEVEL',
];

describe('deployment files', () => {
  it('docker-compose.yml runs PostgreSQL 16 and the gateway, both with health checks', () => {
    const compose = parse(read('docker-compose.yml'));
    const pg = compose.services.postgres;
    const gw = compose.services.gateway;
    expect(pg.image).toMatch(/^postgres:16/);
    expect(pg.healthcheck.test.join(' ')).toContain('pg_isready');
    expect(gw.build).toBe('.');
    expect(gw.depends_on.postgres.condition).toBe('service_healthy');
    expect(gw.healthcheck.test.join(' ')).toContain('/ready');
    expect(gw.environment.DATABASE_URL).toMatch(/^postgresql:\/\/.+@postgres:5432\//);
    expect(gw.environment.ENCRYPTION_KEY).toContain('ENCRYPTION_KEY');
    expect(gw.environment.HOST).toBe('0.0.0.0');
  });

  it('docker-compose.yml exposes no dev login to the network: port published on loopback only, DEV_LOGIN off', () => {
    const compose = parse(read('docker-compose.yml'));
    for (const [name, service] of Object.entries<{ ports?: (string | { host_ip?: string })[] }>(compose.services)) {
      for (const port of service.ports ?? []) {
        const hostIp = typeof port === 'string' ? /^(\d+\.\d+\.\d+\.\d+|\[[^\]]+\]):/.exec(port)?.[1] : port.host_ip;
        expect(hostIp, `${name} publishes ${JSON.stringify(port)} on every interface`).toBe('127.0.0.1');
      }
    }
    // Set in `environment`, which wins over env_file: a .env cannot switch it back on.
    expect(compose.services.gateway.environment.DEV_LOGIN).toBe('false');
  });

  it('the Dockerfile builds in one stage and runs as non-root in another', () => {
    const df = read('Dockerfile');
    expect(df.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(df).toMatch(/^USER node$/m);
    expect(df).toMatch(/HEALTHCHECK/);
    expect(df).toMatch(/npm run build/);
  });

  it('.env.example names every variable of docs/interface.md §2', () => {
    const env = read('.env.example');
    for (const v of CONTRACT_VARIABLES) expect(env, v).toMatch(new RegExp(`^#? ?${v}=`, 'm'));
  });
});
