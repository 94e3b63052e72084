/**
 * JSON-RPC errors on SDK v2 (`mcp/mcp-error.ts`): the gateway's own errors carry v1's "MCP error <code>: " prefix,
 * an upstream's error answer reaches the client with the upstream's own words — relayed or through the SDK client —,
 * and a timeout or closed connection of the v2 client keeps v1's codes — for single requests and for batches alike.
 */
import { describe, expect, it } from 'vitest';
import { ProtocolError, ProtocolErrorCode, SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import { tokenFor } from '../helpers/gateway.js';
import { connectClient, rawPost } from '../helpers/mcp-client.js';
import { useGatewayWithUpstream } from '../fixtures/upstream-server.js';
import { ErrorCode, McpError, isConnectionClosed, isTimeout } from '../../src/mcp/mcp-error.js';

const t = useGatewayWithUpstream({ slug: 'errtext', name: 'Error text' });

type RpcError = { code: number; message: string; data?: unknown };

/** The error of each JSON-RPC message in an event-stream (or JSON) answer, by request id. */
async function errorsOf(res: Response): Promise<Map<unknown, RpcError>> {
  const text = await res.text();
  const bodies = text.startsWith('{') || text.startsWith('[') ? [text] : [...text.matchAll(/^data: (.*)$/gm)].map((m) => m[1]!);
  const out = new Map<unknown, RpcError>();
  for (const body of bodies) {
    const parsed = JSON.parse(body) as unknown;
    for (const m of (Array.isArray(parsed) ? parsed : [parsed]) as { id?: unknown; error?: RpcError }[]) if (m.error) out.set(m.id, m.error);
  }
  return out;
}

describe('the wire text of errors on SDK v2', () => {
  it('is the same alone and in a batch: our errors with v1’s prefix, an upstream’s in its own words', async () => {
    const { token } = await tokenFor(t.gw, { email: 'errors@example.com', team: 'errtext' });
    const { client, transport } = await connectClient(`${t.gw.url}/t/errtext/mcp`, token);
    const headers = { authorization: `Bearer ${token}`, 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' };
    const url = `${t.gw.url}/t/errtext/mcp`;
    const ours = { jsonrpc: '2.0', id: 'ours', method: 'prompts/get', params: { name: 'nowhere__greet' } };
    const theirs = { jsonrpc: '2.0', id: 'theirs', method: 'prompts/get', params: { name: 'up__missing' } };

    // Single requests…
    const front = new Map([...(await errorsOf(await rawPost(url, ours, headers))), ...(await errorsOf(await rawPost(url, theirs, headers)))]);
    // …and batches.
    const batched = await errorsOf(await rawPost(url, [ours, theirs], headers));

    for (const answered of [front, batched]) {
      expect(answered.get('ours')).toEqual({ code: ErrorCode.InvalidParams, message: 'MCP error -32602: Unknown prompt nowhere__greet' });
      // The upstream (an SDK v1 server) said "MCP error -32602: Prompt missing not found", and so does the gateway —
      // relayed (a single request) or through the SDK client (a batch). A v1 client used to prefix it once more.
      expect(answered.get('theirs')).toMatchObject({ code: ErrorCode.InvalidParams, message: expect.stringMatching(/^MCP error -32602: Prompt missing not found/) });
    }
    expect(batched.get('theirs')).toEqual(front.get('theirs'));
    await client.close();
  });

  it('keeps v1’s codes for the SDK client’s timeouts and closed connections, and an error answer’s own words', () => {
    const timeout = McpError.fromUpstream(new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out', { timeout: 5 })) as McpError;
    expect(timeout).toBeInstanceOf(McpError);
    expect({ code: timeout.code, message: timeout.message }).toEqual({ code: -32001, message: 'MCP error -32001: Request timed out' });
    expect(isTimeout(timeout) && isTimeout(new SdkError(SdkErrorCode.RequestTimeout, 'x'))).toBe(true);

    const closed = McpError.fromUpstream(new SdkError(SdkErrorCode.ConnectionClosed, 'Connection closed')) as McpError;
    expect({ code: closed.code, message: closed.message }).toEqual({ code: -32000, message: 'MCP error -32000: Connection closed' });
    expect(isConnectionClosed(closed)).toBe(true);

    // An error answer keeps its sender's words.
    const answer = McpError.fromUpstream(new ProtocolError(ProtocolErrorCode.MethodNotFound, 'Method not found', { m: 1 })) as McpError;
    expect(answer).toBeInstanceOf(McpError);
    expect({ code: answer.code, message: answer.message, data: answer.data }).toEqual({ code: -32601, message: 'Method not found', data: { m: 1 } });
    // Ours pass as they are (not prefixed twice); anything else too.
    const own = new McpError(ErrorCode.InvalidParams, 'no');
    expect(McpError.fromUpstream(own)).toBe(own);
    const other = new TypeError('fetch failed');
    expect(McpError.fromUpstream(other)).toBe(other);
    expect(isTimeout(other) || isConnectionClosed(other)).toBe(false);
  });
});
