/**
 * The gateway's configuration: every variable of docs/interface.md §2 parsed once with zod into a frozen `Config`.
 * Nothing outside this folder reads `process.env`; `loadConfig(process.env)` also reads the working directory's
 * `.env` file beneath it (see env-file.ts).
 */
import path from 'node:path';
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { withEnvFile } from './env-file.js';
import { parseTracingConfig, type TracingConfig } from './tracing-config.js';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const DEFAULT_CORS = ['https://chatgpt.com', 'https://chat.openai.com', 'https://claude.ai'];

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], { error: 'must be true or false' })
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

const duration = z.string().transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration like 90s, 30m or 24h` });
    return z.NEVER;
  }
  return ms;
});

/** A ceiling: `N` per minute, or `N/<duration>` (e.g. `1000/15m`); `0` turns it off. */
const rate = z.string().transform((v, ctx): RateRule => {
  const m = /^\s*(\d+)\s*(?:\/\s*(\S+))?\s*$/.exec(v);
  const windowMs = m?.[2] === undefined ? 60_000 : parseDuration(m[2]);
  if (!m || windowMs === undefined || !Number.isSafeInteger(Number(m[1]))) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a rate like 3000 (per minute), 1000/15m, or 0 (off)` });
    return z.NEVER;
  }
  return Object.freeze({ limit: Number(m[1]), windowMs });
});
const perWindow = (limit: number, windowMs = 60_000) => rate.default(Object.freeze({ limit, windowMs }));

const httpUrl = z
  .string()
  .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), { message: 'must be an http(s) URL' });

const envSchema = z.object({
  PORT: z.coerce.number({ error: 'must be a port number' }).int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  PUBLIC_URL: httpUrl.optional(),
  DATABASE_URL: z
    .string()
    .refine((v) => /^postgres(ql)?:\/\//.test(v), { message: 'must be a postgresql:// URL' })
    .optional(),
  DATA_DIR: z.string().min(1).default('./.data'),
  AUTH_MODE: z.enum(['builtin', 'external'], { error: 'must be builtin or external' }).default('builtin'),
  AUTH_ISSUER: httpUrl.optional(),
  AUTH_JWKS_URL: httpUrl.optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  LOGIN_OIDC_ISSUER: httpUrl.optional(),
  LOGIN_OIDC_CLIENT_ID: z.string().min(1).optional(),
  LOGIN_OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  DEV_LOGIN: bool.optional(),
  // Whether the first start creates the open `demo` team with the demo tool pack. Default: only on the embedded
  // database (a trial); a production PostgreSQL gets no team anyone may join unless asked.
  DEMO_TEAM: bool.optional(),
  ADMIN_API_KEY: z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
  ADMIN_EMAILS: z.string().optional(),
  ENCRYPTION_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, { message: 'must be 32 bytes, base64-encoded' })
    .optional(),
  CHAT_ID_HEADER: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, { message: 'must be an HTTP header name' })
    .default('x-chat-id'),
  SESSION_IDLE_TTL: duration.default(30 * 60_000),
  SESSION_MAX_AGE: duration.default(24 * 3_600_000),
  CORS_ORIGINS: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Needed by operators (README, Configuration): how many live sessions one process keeps in memory before the
  // least recently used are evicted (they are rebuilt from PostgreSQL on their next request).
  // An operator setting (README, Configuration): behind a reverse proxy, which hops to trust for the client address (express "trust proxy":
  // a hop count, or a comma list of addresses/subnets). Per-IP rate limits count the wrong address without it.
  TRUST_PROXY: z
    .string()
    .regex(/^(\d{1,2}|false|true|[0-9a-fA-F:.,/ ]+|loopback|linklocal|uniquelocal)$/, { message: 'must be a hop count, true/false, or a comma list of addresses/subnets' })
    .optional(),
  // Operator settings (README, Configuration): rate ceilings, each `N` per minute or `N/<duration>`, 0 = off. They hold across replicas
  // (counters shared through PostgreSQL every RATE_LIMIT_SYNC_INTERVAL). See src/http/rate-limit-sync.ts.
  // Unauthenticated or failed-authentication MCP requests per source address (authenticated ones never count).
  PREAUTH_IP_RATE_LIMIT: perWindow(6000),
  // MCP requests per user, and per OAuth client within one team, after authentication.
  USER_RATE_LIMIT: perWindow(3000),
  CLIENT_RATE_LIMIT: perWindow(30_000),
  // The built-in authorization server's limits.
  TOKEN_IP_RATE_LIMIT: perWindow(3000),
  TOKEN_CLIENT_RATE_LIMIT: perWindow(1200),
  TOKEN_USER_RATE_LIMIT: perWindow(60),
  REGISTRATION_IP_RATE_LIMIT: perWindow(1000, 15 * 60_000),
  REGISTRATION_SOFTWARE_RATE_LIMIT: perWindow(300, 15 * 60_000),
  LOGIN_IP_RATE_LIMIT: perWindow(600),
  RATE_LIMIT_SYNC_INTERVAL: duration.default(500),
  SESSION_CACHE_SIZE: z.coerce.number().int().min(1).default(10_000),
  SESSION_CACHE_TTL: duration.default(10 * 60_000),
  // How long in-flight requests may finish after SIGTERM before the process closes what is left and exits.
  SHUTDOWN_GRACE: duration.default(10_000),
});

type Env = z.infer<typeof envSchema>;

/** A fixed-window ceiling: at most `limit` requests per `windowMs`; `limit` 0 means no limit. */
export interface RateRule {
  readonly limit: number;
  readonly windowMs: number;
}

/** Every rate ceiling of the gateway (see the `*_RATE_LIMIT` variables). */
export interface RateLimitConfig {
  readonly preauthIp: RateRule;
  readonly user: RateRule;
  readonly client: RateRule;
  readonly tokenIp: RateRule;
  readonly tokenClient: RateRule;
  readonly tokenUser: RateRule;
  readonly registrationIp: RateRule;
  readonly registrationSoftware: RateRule;
  readonly loginIp: RateRule;
  /** How often each replica shares its counts through PostgreSQL. */
  readonly syncIntervalMs: number;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly publicUrl: string;
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly authMode: 'builtin' | 'external';
  readonly authIssuer: string;
  readonly authJwksUrl: string | undefined;
  readonly authAudience: string | undefined;
  readonly loginOidc: { readonly issuer: string; readonly clientId: string; readonly clientSecret: string | undefined } | undefined;
  readonly devLogin: boolean;
  /** Create the `demo` team on a gateway with no team at all (DEMO_TEAM). */
  readonly demoTeam: boolean;
  readonly adminApiKey: string | undefined;
  readonly adminEmails: readonly string[];
  readonly encryptionKey: Buffer | undefined;
  readonly chatIdHeader: string;
  readonly sessionIdleTtlMs: number;
  readonly sessionMaxAgeMs: number;
  readonly corsOrigins: readonly string[];
  readonly logLevel: Env['LOG_LEVEL'];
  readonly trustProxy: boolean | number | string;
  readonly rateLimits: RateLimitConfig;
  readonly sessionCacheSize: number;
  readonly sessionCacheTtlMs: number;
  readonly shutdownGraceMs: number;
  /** OpenTelemetry tracing (the `OTEL_*` variables, `tracing-config.ts`); undefined: off. */
  readonly tracing: TracingConfig | undefined;
}

/**
 * Thrown when the environment is invalid; `message` names every bad variable and why, on one line when there is
 * one problem. `headline` says what failed ("Invalid configuration", or "Cannot start" for a `StartupError`).
 */
export class ConfigError extends Error {
  constructor(
    readonly problems: readonly string[],
    headline = 'Invalid configuration',
  ) {
    super(problems.length === 1 ? `${headline}: ${problems[0]}` : `${headline}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function isLoopbackUrl(url: string): boolean {
  return LOOPBACK_HOSTS.has(new URL(url).hostname);
}

/**
 * The cross-variable rules read the raw strings, not the parsed values, so that they run even when some single
 * variable is bad: one start names every problem at once.
 */
type RawEnv = Readonly<Record<string, string>>;

function requireIssuerForExternalAuth(env: RawEnv): string | undefined {
  return env.AUTH_MODE === 'external' && !env.AUTH_ISSUER ? 'AUTH_ISSUER: required when AUTH_MODE=external' : undefined;
}

function requireEncryptionKeyWithPostgres(env: RawEnv): string | undefined {
  return env.DATABASE_URL && !env.ENCRYPTION_KEY
    ? 'ENCRYPTION_KEY: required with DATABASE_URL (generate one with: openssl rand -base64 32)'
    : undefined;
}

function requireCompleteLoginOidc(env: RawEnv): string | undefined {
  const set = [env.LOGIN_OIDC_ISSUER, env.LOGIN_OIDC_CLIENT_ID].filter(Boolean).length;
  return set === 1 ? 'LOGIN_OIDC_ISSUER, LOGIN_OIDC_CLIENT_ID: set both or neither' : undefined;
}

/** PUBLIC_URL when it is an http(s) URL; anything else is already named by the schema, and only once. */
function publicUrlOf(env: RawEnv): URL | undefined {
  const u = env.PUBLIC_URL && URL.canParse(env.PUBLIC_URL) ? new URL(env.PUBLIC_URL) : undefined;
  return u && /^https?:$/.test(u.protocol) ? u : undefined;
}

function requirePublicUrlWithoutPath(env: RawEnv): string | undefined {
  const u = publicUrlOf(env);
  if (!u) return undefined;
  if (u.search || u.hash) return 'PUBLIC_URL: must not have a query or fragment';
  // Well-known URLs (RFC 8414, RFC 9728) are built at the origin's root; a path prefix would need them rewritten
  // by the reverse proxy too. Serve the gateway at the root of its own host name instead.
  if (u.pathname !== '/') return 'PUBLIC_URL: must be an origin without a path (e.g. https://mcp.example.com)';
  return undefined;
}

/**
 * A public gateway that is its own authorization server needs a way for people to log in; without one it would
 * start, and every OAuth client's login would then fail.
 */
function requireLoginForPublicUrl(env: RawEnv): string | undefined {
  const u = publicUrlOf(env);
  if (!u || LOOPBACK_HOSTS.has(u.hostname) || env.AUTH_MODE === 'external' || env.LOGIN_OIDC_ISSUER) return undefined;
  if (bool.safeParse(env.DEV_LOGIN).data === true) return undefined;
  return `LOGIN_OIDC_ISSUER: required for the public PUBLIC_URL ${env.PUBLIC_URL}, or nobody can log in (set LOGIN_OIDC_ISSUER and LOGIN_OIDC_CLIENT_ID, or AUTH_MODE=external)`;
}

function requireValidCorsOrigins(env: RawEnv): string | undefined {
  const bad = splitList(env.CORS_ORIGINS).filter((o) => !URL.canParse(o) || new URL(o).origin !== o);
  return bad.length ? `CORS_ORIGINS: not origins (scheme://host[:port]): ${bad.join(', ')}` : undefined;
}

function parseTrustProxy(value: string | undefined): boolean | number | string {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  return /^\d+$/.test(value) ? Number(value) : value;
}

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

const crossFieldRules = [
  requireIssuerForExternalAuth,
  requireEncryptionKeyWithPostgres,
  requireCompleteLoginOidc,
  requirePublicUrlWithoutPath,
  requireLoginForPublicUrl,
  requireValidCorsOrigins,
];

/** Unset and empty are the same; a trailing slash on PUBLIC_URL is dropped (links are built as PUBLIC_URL + path). */
function normalize(source: Record<string, string | undefined>): Record<string, string> {
  const raw = Object.fromEntries(Object.entries(source).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
  if (raw.PUBLIC_URL) raw.PUBLIC_URL = raw.PUBLIC_URL.replace(/\/+$/, '');
  return raw;
}

/**
 * Parses the environment into a frozen `Config`, or throws a `ConfigError` naming every bad variable. Given
 * `process.env` itself, the working directory's `.env` fills in what the real environment does not set.
 */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const raw = normalize(source === process.env ? withEnvFile(source, process.cwd()) : source);
  const parsed = envSchema.safeParse(raw);
  const tracing = parseTracingConfig(raw);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)),
    ...crossFieldRules.map((rule) => rule(raw)).filter((p): p is string => p !== undefined),
    ...tracing.problems,
  ];
  if (!parsed.success || problems.length) throw new ConfigError(problems);
  const env = parsed.data;

  const publicUrl = env.PUBLIC_URL ?? `http://localhost:${env.PORT}`;
  const corsOrigins = env.CORS_ORIGINS !== undefined ? splitList(env.CORS_ORIGINS) : DEFAULT_CORS;
  const config: Config = {
    port: env.PORT,
    host: env.HOST,
    publicUrl,
    databaseUrl: env.DATABASE_URL,
    dataDir: path.resolve(env.DATA_DIR),
    authMode: env.AUTH_MODE,
    authIssuer: env.AUTH_MODE === 'external' ? env.AUTH_ISSUER! : publicUrl,
    authJwksUrl: env.AUTH_JWKS_URL,
    authAudience: env.AUTH_AUDIENCE,
    loginOidc:
      env.LOGIN_OIDC_ISSUER && env.LOGIN_OIDC_CLIENT_ID
        ? { issuer: env.LOGIN_OIDC_ISSUER, clientId: env.LOGIN_OIDC_CLIENT_ID, clientSecret: env.LOGIN_OIDC_CLIENT_SECRET }
        : undefined,
    devLogin: env.DEV_LOGIN ?? isLoopbackUrl(publicUrl),
    demoTeam: env.DEMO_TEAM ?? env.DATABASE_URL === undefined,
    adminApiKey: env.ADMIN_API_KEY,
    adminEmails: splitList(env.ADMIN_EMAILS).map((e) => e.toLowerCase()),
    encryptionKey: env.ENCRYPTION_KEY ? Buffer.from(env.ENCRYPTION_KEY, 'base64') : undefined,
    chatIdHeader: env.CHAT_ID_HEADER.toLowerCase(),
    sessionIdleTtlMs: env.SESSION_IDLE_TTL,
    sessionMaxAgeMs: env.SESSION_MAX_AGE,
    corsOrigins,
    logLevel: env.LOG_LEVEL,
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    rateLimits: Object.freeze({
      preauthIp: env.PREAUTH_IP_RATE_LIMIT,
      user: env.USER_RATE_LIMIT,
      client: env.CLIENT_RATE_LIMIT,
      tokenIp: env.TOKEN_IP_RATE_LIMIT,
      tokenClient: env.TOKEN_CLIENT_RATE_LIMIT,
      tokenUser: env.TOKEN_USER_RATE_LIMIT,
      registrationIp: env.REGISTRATION_IP_RATE_LIMIT,
      registrationSoftware: env.REGISTRATION_SOFTWARE_RATE_LIMIT,
      loginIp: env.LOGIN_IP_RATE_LIMIT,
      syncIntervalMs: env.RATE_LIMIT_SYNC_INTERVAL,
    }),
    sessionCacheSize: env.SESSION_CACHE_SIZE,
    sessionCacheTtlMs: env.SESSION_CACHE_TTL,
    shutdownGraceMs: env.SHUTDOWN_GRACE,
    tracing: tracing.tracing,
  };
  return Object.freeze(config);
}
