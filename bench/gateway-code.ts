/**
 * Which code a bench gateway process runs (`BENCH_GATEWAY_CODE`): `dist` — what `npm start` runs, the sources
 * compiled by tsc (`npm run bench` builds it first when it is stale, as `npm start` does) — or `src`, the TypeScript
 * sources through tsx, as the tests run them. They are not the same program: tsx (esbuild with `keepNames`) wraps
 * every named closure in a `__name(…)` call that defines its name at run time, 1–3 % of the gateway's CPU per call
 * and handshake (bench profiles), which the compiled code does not pay. Unset in a gateway process: `src`.
 */
export type GatewayCode = 'src' | 'dist';

export function gatewayCode(value: string | undefined = process.env.BENCH_GATEWAY_CODE): GatewayCode {
  if (value === undefined || value === '' || value === 'src') return 'src';
  if (value === 'dist') return 'dist';
  throw new Error(`BENCH_GATEWAY_CODE must be src or dist, not ${JSON.stringify(value)}`);
}

/**
 * One of the app's modules (`path` without extension, relative to `src/`), from the code this process runs. Every
 * app module a gateway process uses comes through here, so one copy of each is loaded (the request context's one
 * AsyncLocalStorage, the generated Prisma client).
 */
export function appModule<T>(path: string): Promise<T> {
  return import(new URL(`../${gatewayCode()}/${path}.js`, import.meta.url).href) as Promise<T>;
}
