/** Real SDK clients against a test gateway, with a fixed bearer token and optional extra headers. */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export async function connectClient(
  endpoint: string,
  token: string,
  opts: { headers?: Record<string, string>; sessionId?: string; name?: string } = {},
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), {
    requestInit: { headers: { Authorization: `Bearer ${token}`, ...opts.headers } },
    ...(opts.sessionId ? { sessionId: opts.sessionId } : {}),
  });
  const client = new Client({ name: opts.name ?? 'switchboard-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

/** Sends a raw JSON-RPC POST (for the cases the SDK client would not produce). */
export async function rawPost(endpoint: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body),
  });
}

export const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
} as const;

/**
 * Reads an event-stream response as it arrives: `until(needle)` reads until the text so far contains `needle` (or the
 * stream ends), `text()` is everything read.
 */
export function streamText(res: Response): { until(needle: string): Promise<void>; text(): string } {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  return {
    async until(needle) {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    },
    text: () => text,
  };
}
