/** `/health`, `/ready`, `/metrics`, CORS preflight, the JWKS and the JSON error shape. */
import { describe, expect, it } from 'vitest';
import request from 'supertest';
import { useTestGateway, startTestGateway, tokenFor } from '../helpers/gateway.js';
import { createTestDatabase } from '../helpers/database.js';
import { connectClient } from '../helpers/mcp-client.js';


const t = useTestGateway();

describe('operations endpoints', () => {
  it('/health and /ready', async () => {
    await request(t.gw.app.express).get('/health').expect(200, { status: 'ok' });
    const ready = await request(t.gw.app.express).get('/ready').expect(200);
    expect(ready.body.status).toBe('ready');
  });

  it('/metrics counts requests, live sessions and token failures', async () => {
    const { token } = await tokenFor(t.gw, { email: 'm@example.com' });
    const { client } = await connectClient(`${t.gw.url}/t/demo/mcp`, token);
    await request(t.gw.app.express).post('/t/demo/mcp').set('authorization', 'Bearer nope').send({}).expect(401);
    const text = (await request(t.gw.app.express).get('/metrics').expect(200)).text;
    expect(text).toMatch(/switchboard_http_requests_total\{method="POST",route="\/t\/:team\/mcp",status="200"\} \d+/);
    expect(text).toMatch(/switchboard_active_sessions 1/);
    expect(text).toMatch(/switchboard_token_failures_total\{reason="malformed"\} 1/);
    expect(text).toMatch(/switchboard_http_request_duration_seconds_bucket/);
    await client.close();
  });

  it('CORS preflight never needs auth and exposes the MCP headers', async () => {
    const res = await request(t.gw.app.express)
      .options('/t/demo/mcp')
      .set('origin', 'https://claude.ai')
      .set('access-control-request-method', 'POST')
      .set('access-control-request-headers', 'authorization, content-type, mcp-session-id')
      .expect(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://claude.ai');
    expect(res.headers['access-control-allow-headers']).toMatch(/Mcp-Session-Id/i);
    const get = await request(t.gw.app.express).post('/t/demo/mcp').set('origin', 'https://claude.ai').send({}).expect(401);
    expect(get.headers['access-control-expose-headers']).toMatch(/Mcp-Session-Id/);
    expect(get.headers['access-control-expose-headers']).toMatch(/WWW-Authenticate/);
  });

  it('/.well-known/jwks.json publishes the ES256 public key only', async () => {
    const { body } = await request(t.gw.app.express).get('/.well-known/jwks.json').expect(200);
    expect(body.keys).toHaveLength(1);
    expect(body.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: expect.any(String) });
    expect(body.keys[0].d).toBeUndefined();
  });

  it('keys rotate: the new key signs, the old one still verifies, both are published', async () => {
    const { token: before } = await tokenFor(t.gw, { email: 'rot@example.com' });
    const oldKid = (await t.gw.app.keys.jwks()).keys[0]!.kid;
    const newKid = await t.gw.app.keys.rotate();
    expect(newKid).not.toBe(oldKid);
    const kids = (await request(t.gw.app.express).get('/.well-known/jwks.json')).body.keys.map((k: { kid: string }) => k.kid);
    expect(kids).toEqual(expect.arrayContaining([oldKid, newKid]));
    const { token: after } = await tokenFor(t.gw, { email: 'rot@example.com' });
    expect(JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()).kid).toBe(newKid);
    for (const tok of [before, after]) {
      const res = await request(t.gw.app.express).get('/t/demo/sessions').set('authorization', `Bearer ${tok}`);
      expect(res.status).toBe(200);
    }
    const row = await t.tdb.db.prisma.signingKey.findUniqueOrThrow({ where: { kid: oldKid! } });
    expect(row.privateJwkEncrypted).toMatch(/^v1\./);
    expect(row.privateJwkEncrypted).not.toContain('"d"');
  });

  it('unknown routes and oversized bodies get the JSON error shape, not a 500', async () => {
    const nf = await request(t.gw.app.express).get('/nope').expect(404);
    expect(nf.body).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
    const { token } = await tokenFor(t.gw, { email: 'big@example.com' });
    const big = await request(t.gw.app.express)
      .post('/t/demo/mcp')
      .set('authorization', `Bearer ${token}`)
      .set('content-type', 'application/json')
      .send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { pad: 'x'.repeat(5 * 1024 * 1024) } }));
    expect(big.status).toBe(413);
  });
});

describe('per-user rate limit', () => {
  it('USER_RATE_LIMIT caps one user after authentication with a JSON-RPC 429, without touching others', async () => {
    const tdb2 = await createTestDatabase();
    const limited = await startTestGateway(tdb2.db, { env: { USER_RATE_LIMIT: '3' } });
    try {
      const a = await tokenFor(limited, { email: 'busy@example.com' });
      const b = await tokenFor(limited, { email: 'calm@example.com' });
      const post = (token: string) => request(limited.app.express).post('/t/demo/mcp').set('authorization', `Bearer ${token}`).set('accept', 'application/json, text/event-stream').send({ jsonrpc: '2.0', id: 1, method: 'server/discover' });
      for (let i = 0; i < 3; i++) expect((await post(a.token)).status).toBe(400);
      const refused = await post(a.token);
      expect(refused.status).toBe(429);
      expect(refused.body.error.message).toContain('per minute per user');
      expect((await post(b.token)).status).toBe(400);
    } finally {
      await limited.close();
      await tdb2.drop();
    }
  });
});
