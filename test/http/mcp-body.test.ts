/**
 * The MCP endpoint reads plain `application/json` bodies itself and leaves every other body to body-parser
 * (`json` in `mcp/mcp-endpoint.ts`): both paths must take the same requests and refuse the same ones the same way.
 */
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { tokenFor, useTestGateway } from '../helpers/gateway.js';
import { INIT } from '../helpers/mcp-client.js';

const t = useTestGateway();
let token: string;
beforeAll(async () => {
  ({ token } = await tokenFor(t.gw, { email: 'bodies@example.com' }));
});

/** A raw POST (fetch would set its own framing): `chunked` sends the body without a Content-Length. */
function post(body: Buffer | string, headers: Record<string, string>, chunked = false): Promise<{ status: number; text: string }> {
  const url = new URL(`${t.gw.url}/t/demo/mcp`);
  return new Promise((resolve, reject) => {
    const data = typeof body === 'string' ? Buffer.from(body) : body;
    const req = http.request(
      url,
      {
        method: 'POST',
        headers: {
          accept: 'application/json, text/event-stream',
          authorization: `Bearer ${token}`,
          ...(chunked ? {} : { 'content-length': String(data.length) }),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      },
    );
    req.on('error', reject);
    if (chunked) {
      // Two chunks, so the reader has to put them together.
      req.write(data.subarray(0, 10));
      req.end(data.subarray(10));
    } else {
      req.end(data);
    }
  });
}

const init = JSON.stringify(INIT);
const errorOf = (text: string) => (JSON.parse(text) as { error?: { code: number; message: string } }).error;

describe('MCP request bodies', () => {
  const accepted: [string, () => Promise<{ status: number; text: string }>][] = [
    ['application/json', () => post(init, { 'content-type': 'application/json' })],
    ['with charset=utf-8', () => post(init, { 'content-type': 'application/json; charset=utf-8' })],
    ['with charset="UTF-8"', () => post(init, { 'content-type': 'Application/JSON;charset="UTF-8"' })],
    ['with a byte-order mark', () => post(`\uFEFF${init}`, { 'content-type': 'application/json' })],
    ['chunked, in two pieces', () => post(init, { 'content-type': 'application/json' }, true)],
    ['gzip-compressed (body-parser)', () => post(gzipSync(init), { 'content-type': 'application/json', 'content-encoding': 'gzip' })],
    ['another JSON type (body-parser)', () => post(init, { 'content-type': 'application/vnd.mcp+json' })],
  ];
  for (const [what, send] of accepted) {
    it(`takes ${what}`, async () => {
      const res = await send();
      expect(res.status).toBe(200);
      expect(res.text).toContain('"protocolVersion"');
    });
  }

  it('refuses a body that is not JSON with a JSON-RPC parse error, on either path', async () => {
    for (const headers of [{ 'content-type': 'application/json' }, { 'content-type': 'application/merge-patch+json' }]) {
      const res = await post('{"jsonrpc":', headers);
      expect(res.status).toBe(400);
      expect(errorOf(res.text)).toEqual({ code: -32700, message: 'Parse error: the body is not valid JSON' });
    }
  });

  it('refuses a body over 4 MB with 413, whether it says its length or not', async () => {
    const big = `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"${'x'.repeat(4 * 1024 * 1024)}"}}`;
    for (const chunked of [false, true]) {
      const res = await post(big, { 'content-type': 'application/json' }, chunked);
      expect(res.status).toBe(413);
      expect(errorOf(res.text)?.code).toBe(-32700);
    }
  });

  it('reads an empty body as {} (as body-parser does): an invalid JSON-RPC request, not a parse error', async () => {
    const res = await post('', { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    expect(errorOf(res.text)?.code).toBe(-32600);
  });

  it('refuses a charset other than UTF-8 as a parse error (body-parser)', async () => {
    const res = await post(init, { 'content-type': 'application/json; charset=latin1' });
    expect(res.status).toBe(400);
    expect(errorOf(res.text)?.code).toBe(-32700);
  });
});
