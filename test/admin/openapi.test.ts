/**
 * Issue #5 "OpenAPI": `/admin/v1/openapi.json` is a valid OpenAPI 3.1 document generated from the routes' zod
 * schemas; it describes every route, and every code of the error catalogue (`ERROR_CODES`) is documented.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { ADMIN_ROUTES } from '../../src/admin/routes/index.js';
import { ADMIN_AUTHORIZATION } from '../../src/admin/authorization.js';
import { errorCodesOf } from '../../src/admin/openapi.js';
import { startAdminFixture, type AdminFixture } from './admin-fixture.js';
import { ERROR_CODES } from '../../src/errors.js';

let f: AdminFixture;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let doc: any;
beforeAll(async () => {
  f = await startAdminFixture();
  const res = await f.call('GET', '/openapi.json', { as: 'anonymous' });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  doc = res.body;
});
afterAll(async () => {
  await f?.close();
});

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator)', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers).toEqual([{ url: `${f.gw.url}/admin/v1` }]);
  });

  it('describes every route once, with its permission and a unique operationId', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item as object).map((m) => `${m.toUpperCase()} ${path}`));
    expect(documented.sort()).toEqual(Object.keys(ADMIN_AUTHORIZATION).sort());
    const ids = ADMIN_ROUTES.map((r) => doc.paths[r.path][r.method].operationId);
    expect(new Set(ids).size).toBe(ADMIN_ROUTES.length);
    for (const r of ADMIN_ROUTES) expect(doc.paths[r.path][r.method]['x-permission']).toBe(ADMIN_AUTHORIZATION[r.key]);
  });

  it('documents every error code of the catalogue, with its status', () => {
    const codes = Object.keys(ERROR_CODES);
    expect(doc.components.schemas.ErrorCode.enum.sort()).toEqual([...codes].sort());
    for (const [code, e] of Object.entries(ERROR_CODES)) {
      expect(doc.components.schemas.ErrorCode.description).toContain(`\`${code}\` (${e.status}): ${e.description}`);
      expect(doc.info.description).toContain(`| \`${code}\` | ${e.status} |`);
    }
  });

  it('lists, per operation, each error it may answer under its status, with an example', () => {
    for (const r of ADMIN_ROUTES) {
      const op = doc.paths[r.path][r.method];
      for (const code of errorCodesOf(r)) {
        const status = String(ERROR_CODES[code].status);
        expect(op.responses[status], `${r.key} ${status}`).toBeDefined();
        expect(op.responses[status].content['application/json'].examples[code].value.error.code).toBe(code);
      }
      expect(op.responses[String(r.success.status)]).toBeDefined();
    }
  });

  it('has examples for the request and response bodies', () => {
    for (const name of ['TeamCreate', 'TeamPatch', 'MemberAdd', 'ToolServerCreate', 'ToolServerPatch', 'Team', 'Member', 'Invitation', 'ToolServer', 'Session', 'User', 'Error']) {
      expect(doc.components.schemas[name]?.example, name).toBeDefined();
    }
    expect(doc.paths['/teams/{team}/sessions'].get.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['chat', 'client', 'cursor', 'limit', 'since', 'status', 'team']);
    expect(doc.components.schemas.AuditRecord?.example).toBeDefined();
  });

  it('describes the gateway-wide lists: their filters, and that lastSeenAt lags by up to 15 s', () => {
    const names = (path: string) => doc.paths[path].get.parameters.map((p: { name: string }) => p.name).sort();
    expect(names('/sessions')).toEqual(['chat', 'client', 'cursor', 'limit', 'since', 'status', 'team', 'user']);
    expect(names('/audit')).toEqual(['cursor', 'from', 'limit', 'outcome', 'team', 'to', 'tool', 'user']);
    expect(doc.paths['/audit'].get['x-permission']).toBe('teams');
    expect(Object.keys(doc.components.schemas.AuditRecord.properties).sort()).toEqual(
      ['at', 'chatId', 'clientId', 'durationMs', 'id', 'outcome', 'sessionId', 'team', 'tool', 'userEmail', 'userId'].sort(),
    );
    expect(doc.components.schemas.Session.properties.lastSeenAt.description).toContain('at most every 15 seconds');
  });

  it('the error codes a route may answer are all real answers (spot checks through HTTP)', async () => {
    expect((await f.call('GET', '/teams/acme/members/x')).status).toBe(405);
    expect((await f.call('GET', '/teams?limit=0')).body.error.code).toBe('invalid_query');
  });
});
