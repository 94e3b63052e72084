/**
 * docs/architecture.md §Tool servers "forwarding both ways", through a real gateway to a real upstream: progress, logging,
 * cancellation, sampling, elicitation and roots round trips, list_changed re-announced, and a client without a
 * capability getting the upstream's own error rather than a hang.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema,
  type ClientCapabilities,
} from '@modelcontextprotocol/sdk/types.js';
import { tokenFor } from '../helpers/gateway.js';
import { useGatewayWithUpstream } from '../fixtures/upstream-server.js';

const t = useGatewayWithUpstream({ slug: 'fwd', name: 'Forwarding' });

async function client(capabilities: ClientCapabilities = {}): Promise<Client> {
  const { token } = await tokenFor(t.gw, { email: 'fwd@example.com', team: 'fwd' });
  const c = new Client({ name: 'forwarding-test', version: '1' }, { capabilities });
  await c.connect(new StreamableHTTPClientTransport(new URL(`${t.gw.url}/t/fwd/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return c;
}

const textOf = (r: unknown) => ((r as { content: { text?: string }[] }).content[0]?.text ?? '');

async function until(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('upstream → client during a tool call', () => {
  it('progress notifications arrive with the client’s own progress token, and logs on the call’s stream', async () => {
    const c = await client();
    const logs: unknown[] = [];
    c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
    await c.setLoggingLevel('debug');
    const progress: { progress: number; total?: number | undefined; message?: string | undefined }[] = [];
    const r = await c.callTool({ name: 'up__progress', arguments: { steps: 3 } }, undefined, { onprogress: (p) => void progress.push(p) });
    expect(textOf(r)).toBe('done 3');
    expect(progress).toEqual([
      { progress: 1, total: 3, message: 'step 1' },
      { progress: 2, total: 3, message: 'step 2' },
      { progress: 3, total: 3, message: 'step 3' },
    ]);
    expect(logs).toEqual(['step 1', 'step 2', 'step 3']);
    await c.close();
  });

  it('cancelling the call cancels it upstream', async () => {
    const c = await client();
    const ac = new AbortController();
    const call = c.callTool({ name: 'up__wait', arguments: { id: 'cancel-me' } }, undefined, { signal: ac.signal });
    // Cancelled once the upstream's handler runs (a fixed pause lost the race on a loaded machine).
    await until(() => t.up.waiting.includes('cancel-me'), 'the upstream to start the call');
    ac.abort('user gave up');
    await expect(call).rejects.toThrow();
    await until(() => t.up.cancelled.includes('cancel-me'), 'the upstream to see the cancellation');
    await c.close();
  });

  it('sampling: the upstream’s request reaches the client and its answer goes back', async () => {
    const c = await client({ sampling: {} });
    const asked: unknown[] = [];
    c.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      asked.push(req.params.messages[0]?.content);
      return { role: 'assistant', content: { type: 'text', text: 'forty-two' }, model: 'test-model', stopReason: 'endTurn' };
    });
    const r = await c.callTool({ name: 'up__sample', arguments: { prompt: 'meaning of life?' } });
    expect(textOf(r)).toBe('sampled: forty-two');
    expect(asked).toEqual([{ type: 'text', text: 'meaning of life?' }]);
    await c.close();
  });

  it('elicitation: the upstream’s form reaches the client and the answer goes back', async () => {
    const c = await client({ elicitation: { form: {} } });
    c.setRequestHandler(ElicitRequestSchema, async (req) => {
      expect(req.params.message).toBe('Your name?');
      return { action: 'accept', content: { name: 'Ada' } };
    });
    const r = await c.callTool({ name: 'up__ask', arguments: {} });
    expect(textOf(r)).toBe('elicited: accept {"name":"Ada"}');
    await c.close();
  });

  it('roots: the upstream can list the client’s roots', async () => {
    const c = await client({ roots: { listChanged: true } });
    c.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: 'file:///work', name: 'work' }] }));
    const r = await c.callTool({ name: 'up__roots', arguments: {} });
    expect(JSON.parse(textOf(r))).toEqual([{ uri: 'file:///work', name: 'work' }]);
    await c.close();
  });

  it('a client without elicitation gets the upstream’s error as the tool result, promptly', async () => {
    const c = await client();
    const started = Date.now();
    const r = await c.callTool({ name: 'up__ask', arguments: {} });
    expect(r.isError).toBe(true);
    // What a client without the capability answers itself: JSON-RPC "method not found".
    expect(textOf(r)).toMatch(/^elicitation failed: MCP error -32601/);
    expect(Date.now() - started).toBeLessThan(5_000);
    await c.close();
  });
});

describe('upstream announcements outside a call', () => {
  it('tools/list_changed from the upstream is re-announced to the client', async () => {
    const c = await client();
    let changed = 0;
    c.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
    await c.listTools(); // connects the upstream (and its standalone stream)
    await until(
      () => {
        if (changed === 0) t.up.announceToolsChanged();
        return changed > 0;
      },
      'tools/list_changed',
    );
    await c.close();
  });
});
