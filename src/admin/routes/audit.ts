/** `GET /audit`: the audit trail of tool calls, for the teams the caller may see. */
import { defineRoute } from '../route.js';
import { auditQuery } from '../request-schemas.js';
import { auditRecordJson, listOf } from '../response-schemas.js';

export const auditRoutes = [
  defineRoute({
    key: 'GET /audit',
    operationId: 'listToolCalls',
    tag: 'Audit',
    summary: 'List tool calls',
    description:
      'One record per tool call, newest first. Platform admins see every team’s; team admins those of the teams they administer. The cursor is a keyset over (`at`, `id`), so pages have neither duplicates nor gaps while new calls are recorded. Records are written in batches a few milliseconds after the call.',
    query: auditQuery,
    success: { status: 200, description: 'A page of tool-call records', schema: listOf(auditRecordJson, 'AuditRecordList') },
    errors: ['team_not_found'],
    handle: ({ services, principal, query }) => services.audit.list(principal, query),
  }),
];
