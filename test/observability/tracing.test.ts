/**
 * OpenTelemetry tracing end to end (docs/architecture.md §Tracing): a real gateway with `OTEL_EXPORTER_OTLP_ENDPOINT`
 * pointing at an in-test OTLP receiver, a real SDK upstream that records the headers it receives, and a real SDK
 * client that sends its own `traceparent`. One trace must link the client's span → the gateway's server span → its
 * client span for the upstream call → the `traceparent` the upstream received; in both OTLP encodings. Without the
 * endpoint, nothing is exported and nothing is added to what the upstream receives.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, tokenFor, type TestGateway } from '../helpers/gateway.js';
import { connectClient, INIT, rawPost } from '../helpers/mcp-client.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { startUpstream, type UpstreamFixture } from '../fixtures/upstream-server.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';
import { tracingOn } from '../../src/observability/tracing.js';

const SECRET_ARGUMENT = 'argument-that-must-not-be-traced';
const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;

let tdb: TestDatabase;
let up: UpstreamFixture;
let receiver: OtlpReceiver;

beforeAll(async () => {
  tdb = await createTestDatabase();
  up = await startUpstream('up');
  receiver = await startOtlpReceiver();
});

afterAll(async () => {
  await up?.close();
  await receiver?.close();
  await tdb?.drop();
});

/** A W3C trace context as a client inside a trace of its own would send it. */
function clientContext(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** A gateway whose team `slug` has the upstream as its tool server `up`; closed (flushing its spans) by the caller. */
async function gatewayWithTeam(slug: string, env: Record<string, string>): Promise<TestGateway> {
  const gw = await startTestGateway(tdb.db, { env });
  const team = await createTeam(tdb.db.prisma, { slug, name: slug });
  await addToolServer(tdb.db.prisma, gw.app.box, team.id, { name: 'up', kind: 'remote', url: up.url });
  return gw;
}

function textOf(result: unknown): string {
  return ((result as { content: { text: string }[] }).content[0]?.text ?? '') as string;
}

function byName(spans: ReceivedSpan[], name: string, traceId: string): ReceivedSpan {
  const found = spans.filter((s) => s.name === name && s.traceId === traceId);
  expect(found, `one span ${name} in trace ${traceId}; got ${spans.map((s) => s.name).join(', ')}`).toHaveLength(1);
  return found[0]!;
}

/** The traceparent header of the upstream's first `rpcMethod` request received after `from`. */
function upstreamTraceparent(rpcMethod: string, from: number): string | undefined {
  const seen = up.requests.slice(from).find((r) => r.rpcMethod === rpcMethod);
  return seen?.headers.traceparent as string | undefined;
}

// First: nothing of OpenTelemetry has been set up in this process yet.
describe('tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  it('exports nothing, adds no traceparent upstream, and sets up nothing of OpenTelemetry', async () => {
    const exportsBefore = receiver.exports.length;
    const from = up.requests.length;
    const used = new Set<AsyncLocalStorage<unknown>>();
    const proto = AsyncLocalStorage.prototype as unknown as Record<'run' | 'enterWith', (...args: unknown[]) => unknown>;
    const originals = { run: proto.run, enterWith: proto.enterWith };
    const gw = await gatewayWithTeam('trace-off', {});
    try {
      expect(tracingOn).toBe(false);
      const { token } = await tokenFor(gw, { email: 'off@example.com', team: 'trace-off' });
      const ctx = clientContext();
      const { client } = await connectClient(`${gw.url}/t/trace-off/mcp`, token, { headers: { traceparent: ctx.traceparent } });
      for (const name of ['run', 'enterWith'] as const) {
        proto[name] = function (this: AsyncLocalStorage<unknown>, ...args: unknown[]) {
          used.add(this);
          return originals[name].apply(this, args);
        };
      }
      expect(textOf(await client.callTool({ name: 'up__echo', arguments: { text: 'off' } }))).toBe('up:off');
      expect(textOf(await client.callTool({ name: 'up__echo', arguments: { text: 'again' } }))).toBe('up:again');
      Object.assign(proto, originals);
      await client.close();
    } finally {
      Object.assign(proto, originals);
      await gw.close();
    }
    const seen = up.requests.slice(from);
    expect(seen.some((r) => r.rpcMethod === 'tools/call')).toBe(true);
    for (const r of seen) expect(r.headers.traceparent).toBeUndefined();
    expect(receiver.exports.length).toBe(exportsBefore);
    // No OpenTelemetry global (context manager, propagator, diag) and no Prisma tracing hook were registered, and
    // the calls used no AsyncLocalStorage besides the gateway's own (request-context.ts) at most.
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('opentelemetry.js.api.1')]).toBeUndefined();
    expect((globalThis as Record<string, unknown>).V7_PRISMA_INSTRUMENTATION ?? (globalThis as Record<string, unknown>).PRISMA_INSTRUMENTATION).toBeUndefined();
    expect(used.size).toBeLessThanOrEqual(1);
  });
});

describe.each(['http/json', 'http/protobuf'] as const)('tracing on, exporting %s', (protocol) => {
  const slug = protocol === 'http/json' ? 'trace-json' : 'trace-proto';
  const ctx = clientContext();
  let spans: ReceivedSpan[];
  let exported: { contentType: string; body: Buffer }[];
  let token: string;
  let sessionId: string | undefined;
  let upstreamFrom: number;

  beforeAll(async () => {
    const exportsBefore = receiver.exports.length;
    const spansBefore = receiver.spans.length;
    upstreamFrom = up.requests.length;
    const gw = await gatewayWithTeam(slug, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_SERVICE_NAME: `sb-${slug}` });
    try {
      expect(tracingOn).toBe(true);
      ({ token } = await tokenFor(gw, { email: `${slug}@example.com`, team: slug }));
      const { client, transport } = await connectClient(`${gw.url}/t/${slug}/mcp`, token, { headers: { traceparent: ctx.traceparent } });
      expect(textOf(await client.callTool({ name: 'up__echo', arguments: { text: SECRET_ARGUMENT } }))).toBe(`up:${SECRET_ARGUMENT}`);
      expect((await client.callTool({ name: 'up__fail', arguments: {} })).isError).toBe(true);
      expect((await client.getPrompt({ name: 'up__greet', arguments: { who: 'Ada' } })).messages.length).toBeGreaterThan(0);
      sessionId = transport.sessionId;
      await client.close();
    } finally {
      await gw.close(); // flushes the spans
    }
    spans = receiver.spans.slice(spansBefore);
    exported = receiver.exports.slice(exportsBefore);
  });

  it(`sends ${protocol} to the endpoint's /v1/traces`, () => {
    expect(exported.length).toBeGreaterThan(0);
    for (const e of exported) expect(e.contentType).toBe(protocol === 'http/json' ? 'application/json' : 'application/x-protobuf');
    expect(spans.length).toBeGreaterThan(0);
    expect(new Set(spans.map((s) => s.resource['service.name']))).toEqual(new Set([`sb-${slug}`]));
    // Every span has a real start and ends no earlier (the server span's start was once read from a clock that
    // drifts from the one its end is read from).
    for (const s of spans) {
      expect(s.startNs, s.name).toBeGreaterThan(1_700_000_000_000_000_000n);
      expect(s.endNs >= s.startNs, `${s.name} ends before it starts`).toBe(true);
    }
  });

  it("links the client's traceparent → server span → upstream client span → the header the upstream received", () => {
    const server = byName(spans, 'tools/call up__echo', ctx.traceId);
    expect(server.kind).toBe(SERVER);
    expect(server.parentSpanId).toBe(ctx.spanId);
    expect(server.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'up__echo',
      'switchboard.team': slug,
      'mcp.session.id': sessionId!,
      'http.response.status_code': 200,
    });
    expect(server.attributes['jsonrpc.request.id']).toMatch(/^\d+$/);
    expect(server.statusCode).not.toBe(ERROR);

    const upstreamCall = byName(spans, 'tools/call echo', ctx.traceId);
    expect(upstreamCall.kind).toBe(CLIENT);
    expect(upstreamCall.parentSpanId).toBe(server.spanId);
    expect(upstreamCall.attributes).toMatchObject({ 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'echo', 'switchboard.tool_server': 'up' });

    const calls = up.requests.slice(upstreamFrom).filter((r) => r.rpcMethod === 'tools/call');
    expect(calls.map((r) => r.headers.traceparent)).toContain(`00-${ctx.traceId}-${upstreamCall.spanId}-01`);
  });

  it('gives a relayed prompts/get its own client span under the request’s server span', () => {
    const server = byName(spans, 'prompts/get up__greet', ctx.traceId);
    expect(server.kind).toBe(SERVER);
    const upstreamGet = byName(spans, 'prompts/get greet', ctx.traceId);
    expect(upstreamGet.kind).toBe(CLIENT);
    expect(upstreamGet.parentSpanId).toBe(server.spanId);
    expect(upstreamGet.attributes).toMatchObject({ 'mcp.method.name': 'prompts/get', 'gen_ai.prompt.name': 'greet', 'switchboard.tool_server': 'up' });
    expect(upstreamGet.attributes['gen_ai.tool.name']).toBeUndefined();
  });

  it("traces the upstream's SDK-client requests (its initialize) in the request that needed them", () => {
    const init = spans.find((s) => s.kind === CLIENT && s.name === 'initialize' && s.attributes['switchboard.tool_server'] === 'up');
    expect(init, spans.map((s) => s.name).join(', ')).toBeDefined();
    expect(init!.traceId).toBe(ctx.traceId);
    expect(spans.some((s) => s.spanId === init!.parentSpanId && s.kind === SERVER)).toBe(true);
    expect(upstreamTraceparent('initialize', upstreamFrom)).toBe(`00-${ctx.traceId}-${init!.spanId}-01`);
  });

  it('records database queries as spans within the request that made them', () => {
    expect(spans.filter((s) => s.kind === SERVER && s.name === 'initialize' && s.traceId === ctx.traceId)).toHaveLength(1);
    const prisma = spans.filter((s) => s.name.startsWith('prisma:'));
    expect(prisma.length).toBeGreaterThan(0);
    // Every recorded database span belongs to a request's trace: none is a root of its own.
    for (const s of prisma) expect(s.parentSpanId).not.toBe('');
    const ids = new Map(spans.map((s) => [s.spanId, s]));
    const rootOf = (s: ReceivedSpan): ReceivedSpan => {
      let at = s;
      while (at.kind !== SERVER && ids.has(at.parentSpanId)) at = ids.get(at.parentSpanId)!;
      return at;
    };
    expect(prisma.some((s) => rootOf(s).name === 'initialize' && rootOf(s).kind === SERVER)).toBe(true);
  });

  it('marks a tool error on the server span and on the upstream client span', () => {
    const server = byName(spans, 'tools/call up__fail', ctx.traceId);
    expect(server.statusCode).toBe(ERROR);
    expect(server.attributes['error.type']).toBe('tool_error');
    const upstreamCall = byName(spans, 'tools/call fail', ctx.traceId);
    expect(upstreamCall.statusCode).toBe(ERROR);
  });

  it('never exports arguments, results or tokens', () => {
    const everything = Buffer.concat(exported.map((e) => e.body)).toString('latin1');
    expect(everything).not.toContain(SECRET_ARGUMENT);
    expect(everything).not.toContain(token);
    const upstreamAuth = up.requests.slice(upstreamFrom).map((r) => String(r.headers.authorization ?? '').replace(/^Bearer /, '')).filter(Boolean);
    expect(upstreamAuth.length).toBeGreaterThan(0);
    for (const jwt of upstreamAuth) expect(everything).not.toContain(jwt);
    for (const s of spans) for (const v of Object.values(s.attributes)) expect(String(v)).not.toContain(SECRET_ARGUMENT);
  });
});

describe('tracing on: the rest of the wire', () => {
  const slug = 'trace-wire';
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' };
  beforeAll(() => {
    env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  });

  it("continues a traceparent sent in params._meta (SEP-414) and gives the upstream the gateway's own there", async () => {
    const spansBefore = receiver.spans.length;
    const gw = await gatewayWithTeam(slug, env);
    const ctx = clientContext();
    const from = up.requests.length;
    try {
      const { token } = await tokenFor(gw, { email: `${slug}@example.com`, team: slug });
      const { client } = await connectClient(`${gw.url}/t/${slug}/mcp`, token);
      await client.callTool({ name: 'up__echo', arguments: { text: 'meta' }, _meta: { traceparent: ctx.traceparent } });
      await client.close();
    } finally {
      await gw.close();
    }
    const spans = receiver.spans.slice(spansBefore);
    const server = byName(spans, 'tools/call up__echo', ctx.traceId);
    expect(server.parentSpanId).toBe(ctx.spanId);
    const upstreamCall = byName(spans, 'tools/call echo', ctx.traceId);
    const call = up.requests.slice(from).find((r) => r.rpcMethod === 'tools/call')!;
    expect(call.headers.traceparent).toBe(`00-${ctx.traceId}-${upstreamCall.spanId}-01`);
    expect(call.meta?.traceparent).toBe(`00-${ctx.traceId}-${upstreamCall.spanId}-01`);
  });

  it('starts a new trace for a request without any traceparent, and marks JSON-RPC errors', async () => {
    const spansBefore = receiver.spans.length;
    const gw = await startTestGateway(tdb.db, { env });
    let fresh: Response;
    try {
      const { token } = await tokenFor(gw, { email: `${slug}@example.com`, team: slug });
      const res = await rawPost(`${gw.url}/t/${slug}/mcp`, { ...INIT, id: 7 }, { authorization: `Bearer ${token}`, 'mcp-session-id': 'no-such-session' });
      expect(res.status).toBe(404);
      fresh = await rawPost(`${gw.url}/t/${slug}/mcp`, INIT, { authorization: `Bearer ${token}` });
      expect(fresh.status).toBe(200);
      await fresh.text();
    } finally {
      await gw.close();
    }
    const spans = receiver.spans.slice(spansBefore).filter((s) => s.kind === SERVER);
    expect(spans).toHaveLength(2);
    const missing = spans.find((s) => s.attributes['jsonrpc.request.id'] === '7');
    const created = spans.find((s) => s.attributes['jsonrpc.request.id'] === '1');
    expect(missing!.statusCode).toBe(ERROR);
    expect(missing!.attributes).toMatchObject({ 'rpc.response.status_code': '-32001', 'http.response.status_code': 404, 'mcp.session.id': 'no-such-session' });
    expect(created!.parentSpanId).toBe('');
    expect(created!.statusCode).not.toBe(ERROR);
    expect(created!.attributes).toMatchObject({ 'mcp.method.name': 'initialize', 'mcp.protocol.version': '2025-11-25' });
    expect(created!.attributes['mcp.session.id']).toEqual(fresh.headers.get('mcp-session-id'));
  });
});
