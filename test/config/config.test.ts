/** docs/interface.md §2: defaults, and one message naming every bad variable. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, ConfigError } from '../../src/config/config.js';
import { withEnvFile } from '../../src/config/env-file.js';
import { parseDuration } from '../../src/config/duration.js';

const OIDC = { LOGIN_OIDC_ISSUER: 'https://accounts.example.com', LOGIN_OIDC_CLIENT_ID: 'switchboard' };

describe('loadConfig', () => {
  it('has the documented defaults with no configuration at all', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      publicUrl: 'http://localhost:3000',
      databaseUrl: undefined,
      authMode: 'builtin',
      authIssuer: 'http://localhost:3000',
      devLogin: true,
      chatIdHeader: 'x-chat-id',
      sessionIdleTtlMs: 30 * 60_000,
      sessionMaxAgeMs: 24 * 3_600_000,
      logLevel: 'info',
    });
    expect(c.corsOrigins).toEqual(['https://chatgpt.com', 'https://chat.openai.com', 'https://claude.ai']);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('never turns the dev login on by default for a public URL', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://mcp.example.com', ...OIDC }).devLogin).toBe(false);
    expect(loadConfig({ PUBLIC_URL: 'https://mcp.example.com', DEV_LOGIN: 'true' }).devLogin).toBe(true);
  });

  it('refuses a public PUBLIC_URL nobody could log in to (no LOGIN_OIDC_*, dev login off), unless AUTH_MODE=external', () => {
    expect(() => loadConfig({ PUBLIC_URL: 'https://mcp.example.com' })).toThrow(/^Invalid configuration: LOGIN_OIDC_ISSUER: required for the public PUBLIC_URL https:\/\/mcp.example.com, or nobody can log in/);
    expect(() => loadConfig({ PUBLIC_URL: 'https://mcp.example.com', DEV_LOGIN: 'false' })).toThrow(/LOGIN_OIDC_ISSUER/);
    expect(loadConfig({ PUBLIC_URL: 'https://mcp.example.com', AUTH_MODE: 'external', AUTH_ISSUER: 'https://login.example.com' }).authMode).toBe('external');
    expect(loadConfig({ PUBLIC_URL: 'https://mcp.example.com', ...OIDC }).loginOidc?.issuer).toBe(OIDC.LOGIN_OIDC_ISSUER);
    expect(loadConfig({ PUBLIC_URL: 'http://127.0.0.1:3000', DEV_LOGIN: 'false' }).devLogin).toBe(false); // a local trial
  });

  it('creates the demo team by default on the embedded database only; DEMO_TEAM decides otherwise', () => {
    const pg = { DATABASE_URL: 'postgresql://db/x', ENCRYPTION_KEY: Buffer.alloc(32).toString('base64') };
    expect(loadConfig({}).demoTeam).toBe(true);
    expect(loadConfig(pg).demoTeam).toBe(false);
    expect(loadConfig({ ...pg, DEMO_TEAM: 'true' }).demoTeam).toBe(true);
    expect(loadConfig({ DEMO_TEAM: 'false' }).demoTeam).toBe(false);
    expect(() => loadConfig({ DEMO_TEAM: 'maybe' })).toThrow(/DEMO_TEAM: must be true or false/);
  });

  it('trims trailing slashes from PUBLIC_URL instead of refusing it', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://x.example/', ...OIDC }).publicUrl).toBe('https://x.example');
    expect(loadConfig({ PUBLIC_URL: 'http://localhost:8080//' }).publicUrl).toBe('http://localhost:8080');
    expect(() => loadConfig({ PUBLIC_URL: 'https://x.example/gw/', ...OIDC })).toThrow(/without a path/);
  });

  it('reports every bad variable at once, each with the reason', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'eighty', AUTH_MODE: 'magic', SESSION_IDLE_TTL: 'soon', ENCRYPTION_KEY: 'short', PUBLIC_URL: 'ftp://x' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    for (const v of ['PORT', 'AUTH_MODE', 'SESSION_IDLE_TTL', 'ENCRYPTION_KEY', 'PUBLIC_URL']) expect(msg).toContain(v);
    expect(msg).toContain('"soon" is not a duration');
  });

  it('reports the cross-variable problems together with the single-variable ones', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'eighty', AUTH_MODE: 'magic', SESSION_IDLE_TTL: 'soon', ENCRYPTION_KEY: 'short', LOG_LEVEL: 'loud', PUBLIC_URL: 'https://mcp.example.com/gw', DATABASE_URL: 'postgresql://db/x', LOGIN_OIDC_ISSUER: 'https://idp.example' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    for (const v of ['PORT:', 'AUTH_MODE:', 'SESSION_IDLE_TTL:', 'ENCRYPTION_KEY:', 'LOG_LEVEL:']) expect(problems.some((p) => p.startsWith(v)), v).toBe(true);
    expect(problems).toContain('PUBLIC_URL: must be an origin without a path (e.g. https://mcp.example.com)');
    expect(problems).toContain('LOGIN_OIDC_ISSUER, LOGIN_OIDC_CLIENT_ID: set both or neither');
    expect((err as Error).message.split('\n')[0]).toBe('Invalid configuration:');
    // A PUBLIC_URL that is not http(s) is named once, by what is wrong with it.
    expect(() => loadConfig({ PUBLIC_URL: 'mailto:ops' })).toThrow(/^Invalid configuration: PUBLIC_URL: must be an http\(s\) URL$/);
  });

  it('applies the cross-field rules', () => {
    const msg = (fn: () => unknown) => {
      try {
        fn();
        return '';
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(msg(() => loadConfig({ AUTH_MODE: 'external' }))).toContain('AUTH_ISSUER: required when AUTH_MODE=external');
    expect(msg(() => loadConfig({ DATABASE_URL: 'postgresql://x/y' }))).toContain('ENCRYPTION_KEY: required with DATABASE_URL');
    expect(msg(() => loadConfig({ PUBLIC_URL: 'https://x.example/gw' }))).toContain('without a path');
    expect(msg(() => loadConfig({ PUBLIC_URL: 'https://x.example/?a=1' }))).toContain('query or fragment');
    expect(msg(() => loadConfig({ LOGIN_OIDC_ISSUER: 'https://idp.example' }))).toContain('LOGIN_OIDC_CLIENT_ID');
    expect(msg(() => loadConfig({ CORS_ORIGINS: 'https://ok.example,not an origin' }))).toContain('not an origin');
  });

  it('parses TRUST_PROXY as express expects it', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy).toBe('10.0.0.0/8, 127.0.0.1');
    expect(() => loadConfig({ TRUST_PROXY: 'everyone!' })).toThrow(/TRUST_PROXY/);
  });

  it('parses durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('45')).toBe(45_000);
    expect(parseDuration('0s')).toBeUndefined();
    expect(parseDuration('1 fortnight')).toBeUndefined();
  });
});

describe('the working directory\'s .env', () => {
  const dirWith = (text: string) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sb-env-'));
    writeFileSync(path.join(dir, '.env'), text);
    return dir;
  };

  it('fills in what the real environment does not set; the real environment always wins', () => {
    const dir = dirWith('# a comment\nPORT=4100\nLOG_LEVEL=debug\nPUBLIC_URL="http://localhost:4100"\nCHAT_ID_HEADER=x-from-file\n');
    const env = withEnvFile({ LOG_LEVEL: 'warn', CHAT_ID_HEADER: '' }, dir);
    expect(env).toMatchObject({ PORT: '4100', LOG_LEVEL: 'warn', PUBLIC_URL: 'http://localhost:4100', CHAT_ID_HEADER: '' });
    const c = loadConfig(env);
    expect(c).toMatchObject({ port: 4100, logLevel: 'warn', publicUrl: 'http://localhost:4100', chatIdHeader: 'x-chat-id' });
  });

  it('is optional', () => {
    const source = { PORT: '1' };
    expect(withEnvFile(source, mkdtempSync(path.join(tmpdir(), 'sb-noenv-')))).toBe(source);
  });

  it('a bad value in .env is named like any other', () => {
    expect(() => loadConfig(withEnvFile({}, dirWith('AUTH_MODE=magic\n')))).toThrow(/AUTH_MODE: must be builtin or external/);
  });
});
