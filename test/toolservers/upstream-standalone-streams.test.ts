/**
 * An upstream session's standalone stream (its GET: list changes, resource updates, the upstream's own requests) is
 * open only while the session's client listens — and on the replica where it listens (`UpstreamClient.listen`). A
 * client that never opens a GET stream (ChatGPT's connector) leaves no upstream connection open between requests.
 */
import { describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../helpers/database.js';
import { tokenFor, type TestGateway } from '../helpers/gateway.js';
import { INIT, rawPost } from '../helpers/mcp-client.js';
import { useTwoReplicasWithUpstream } from '../fixtures/upstream-server.js';
import { LISTEN_GRACE_MS } from '../../src/mcp/session-stream.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!TEST_DATABASE_URL)('upstream standalone streams follow the client (needs TEST_DATABASE_URL: a real PostgreSQL)', () => {
  const t = useTwoReplicasWithUpstream({ slug: 'listen', name: 'Listen' });

  const endpoint = (gw: TestGateway) => `${gw.url}/t/listen/mcp`;

  /** A session opened the way a client that never listens opens it: initialize, initialized, no GET. */
  async function session(email: string): Promise<{ sid: string; headers: Record<string, string> }> {
    const { token } = await tokenFor(t.a, { email, team: 'listen' });
    const res = await rawPost(endpoint(t.a), INIT, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    await res.text();
    const sid = res.headers.get('mcp-session-id')!;
    const headers = { authorization: `Bearer ${token}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
    expect((await rawPost(endpoint(t.a), { jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).status).toBe(202);
    return { sid, headers };
  }

  let ids = 0;
  async function echo(gw: TestGateway, headers: Record<string, string>, text: string): Promise<void> {
    const res = await rawPost(endpoint(gw), { jsonrpc: '2.0', id: ++ids, method: 'tools/call', params: { name: 'up__echo', arguments: { text } } }, headers);
    expect(await res.text()).toContain(`up:${text}`);
  }

  async function upstreamSessionOf(sid: string): Promise<string> {
    const row = await t.tdb.db.prisma.session.findUniqueOrThrow({ where: { id: sid }, select: { upstreamSessions: true } });
    return (row.upstreamSessions as { up: { id: string } }).up.id;
  }

  /** The client's GET stream on `gw`, read into a string. */
  async function listen(gw: TestGateway, headers: Record<string, string>) {
    const ac = new AbortController();
    const res = await fetch(endpoint(gw), { headers: { ...headers, accept: 'text/event-stream' }, signal: ac.signal });
    expect(res.status).toBe(200);
    let text = '';
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(chunk, { stream: true });
    })().catch(() => undefined);
    return {
      text: () => text,
      async close() {
        ac.abort();
        await reading;
      },
    };
  }

  /** Announces a tool-list change upstream until `stream` shows it after its first `from` characters (its stream may still be opening). */
  async function hears(stream: { text(): string }, from = 0): Promise<void> {
    await expect
      .poll(
        () => {
          t.up.announceToolsChanged();
          return stream.text().slice(from);
        },
        { timeout: 5_000 },
      )
      .toContain('notifications/tools/list_changed');
  }

  it('a client that does not listen holds no upstream stream; one opens when it listens and closes after the grace', async () => {
    const { sid, headers } = await session('quiet@example.com');
    await echo(t.a, headers, 'one');
    const upstream = await upstreamSessionOf(sid);
    // The SDK client would have opened it right after its initialize, before the call's answer: none was.
    await sleep(300);
    expect(t.up.requests.filter((r) => r.httpMethod === 'GET' && r.sessionId === upstream)).toEqual([]);

    const stream = await listen(t.a, headers);
    await expect.poll(() => t.up.openStreams.get(upstream)).toBe(1);
    await hears(stream);

    // The client goes away: the upstream stream stays for the grace (the client may come back), then closes.
    await stream.close();
    await sleep(500);
    expect(t.up.openStreams.get(upstream)).toBe(1);
    await expect.poll(() => t.up.openStreams.get(upstream), { timeout: LISTEN_GRACE_MS + 3_000 }).toBe(0);
  });

  it('the replica where the client listens opens the stream of an upstream session another replica opened, before or after', async () => {
    // Opened on A first, then the client listens on B: B resumes it from the session's row.
    const first = await session('before@example.com');
    await echo(t.a, first.headers, 'before');
    const firstUpstream = await upstreamSessionOf(first.sid);
    const onB = await listen(t.b, first.headers);
    await expect.poll(() => t.up.openStreams.get(firstUpstream)).toBe(1);
    await hears(onB);
    await onB.close();

    // The client listens on B first; A opens the upstream session for a call and says so: B opens its stream.
    const second = await session('after@example.com');
    const listening = await listen(t.b, second.headers);
    await sleep(100);
    await echo(t.a, second.headers, 'after');
    const secondUpstream = await upstreamSessionOf(second.sid);
    await expect.poll(() => t.up.openStreams.get(secondUpstream)).toBe(1);
    await hears(listening);
    await listening.close();
  });

  it('a tool-server change moves the stream to the session’s new connections (an upstream allows one per session)', async () => {
    const { sid, headers } = await session('change@example.com');
    await echo(t.a, headers, 'x');
    const upstream = await upstreamSessionOf(sid);
    const stream = await listen(t.a, headers);
    await expect.poll(() => t.up.openStreams.get(upstream)).toBe(1);
    const opened = () => t.up.requests.filter((r) => r.httpMethod === 'GET' && r.sessionId === upstream).length;
    const before = opened();

    const team = await t.tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'listen' } });
    await t.a.app.sessions.toolsChanged(team.id);
    // The new connections open their own stream on the same upstream session, and the old one's is closed at once
    // (not after the old connections' grace): still one open, and the upstream's announcements still arrive.
    await expect.poll(() => opened(), { timeout: 5_000 }).toBeGreaterThan(before);
    await expect.poll(() => t.up.openStreams.get(upstream), { timeout: 5_000 }).toBe(1);
    // The gateway's own list_changed for the change comes first; the upstream's must follow it.
    await expect.poll(() => stream.text()).toContain('notifications/tools/list_changed');
    await hears(stream, stream.text().length);
    await stream.close();
  });

  it('an upstream session that expires while the client listens is replaced, and the new one’s stream opened', async () => {
    const { sid, headers } = await session('expiry@example.com');
    await echo(t.a, headers, 'old');
    const old = await upstreamSessionOf(sid);
    const stream = await listen(t.a, headers);
    await expect.poll(() => t.up.openStreams.get(old)).toBe(1);

    t.up.expireSessions();
    // The next call meets 404, initializes anew, and — the client listening — opens the new session's stream.
    await echo(t.a, headers, 'new');
    const fresh = await upstreamSessionOf(sid);
    expect(fresh).not.toBe(old);
    await expect.poll(() => t.up.openStreams.get(fresh)).toBe(1);
    await hears(stream);
    await stream.close();
  });
});

