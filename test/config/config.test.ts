/** docs/interface.md §2: defaults, and one message naming every bad variable. */
import { describe, expect, it } from 'vitest';
import { loadConfig, ConfigError } from '../../src/config/config.js';
import { parseDuration } from '../../src/config/duration.js';

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
    expect(loadConfig({ PUBLIC_URL: 'https://mcp.example.com' }).devLogin).toBe(false);
    expect(loadConfig({ PUBLIC_URL: 'https://mcp.example.com', DEV_LOGIN: 'true' }).devLogin).toBe(true);
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
    expect(msg(() => loadConfig({ PUBLIC_URL: 'https://x.example/' }))).toContain('PUBLIC_URL');
    expect(msg(() => loadConfig({ PUBLIC_URL: 'https://x.example/gw' }))).toContain('without a path');
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
