/** `/teams/{team}/tool-servers`. */
import { defineRoute } from '../route.js';
import { listQuery, noQuery, teamPath, toolServerCreateBody, toolServerPatchBody, toolServerPath } from '../request-schemas.js';
import { listOf, toolServerJson } from '../response-schemas.js';

const appliesTo = 'New sessions use the change at once; live sessions of the team are sent `notifications/tools/list_changed`.';
const policyNote =
  '`policy` says which members may see and use which tools, prompts and resources (`AccessPolicy`): items a member may not use are absent from their lists, and requests for them get JSON-RPC error -32003 naming the policy (audit outcome `denied`). Team admins may set it.';
const teamAdminLimits =
  'Team admins (unlike platform admins) may not set `auth.mode` `passthrough` or re-point a passthrough tool server at another URL (403), nor set a URL whose host is, or resolves to, a private, loopback, link-local, CGNAT or unique-local address (422). Adding or changing a tool server with `passthrough` or `static` auth is audited.';

export const toolServerRoutes = [
  defineRoute({
    key: 'GET /teams/{team}/tool-servers',
    operationId: 'listToolServers',
    tag: 'Tool servers',
    summary: 'List a team’s tool servers',
    description: 'By name. Secrets are never returned; `auth.secretSet` says whether one is stored.',
    params: teamPath,
    query: listQuery,
    success: { status: 200, description: 'A page of tool servers', schema: listOf(toolServerJson, 'ToolServerList') },
    errors: ['team_not_found'],
    handle: ({ services, params, query }) => services.toolServers.list(params.team, query),
  }),
  defineRoute({
    key: 'POST /teams/{team}/tool-servers',
    operationId: 'addToolServer',
    tag: 'Tool servers',
    summary: 'Add a tool server',
    description: `The same code as the CLI. Unknown fields are refused. ${policyNote} ${teamAdminLimits} ${appliesTo}`,
    params: teamPath,
    query: noQuery,
    body: toolServerCreateBody,
    success: { status: 201, description: 'The new tool server', schema: toolServerJson },
    errors: ['invalid_body', 'team_not_found', 'conflict', 'unprocessable'],
    handle: ({ services, params, body, principal }) => services.toolServers.create(principal, params.team, body),
  }),
  defineRoute({
    key: 'GET /teams/{team}/tool-servers/{name}',
    operationId: 'getToolServer',
    tag: 'Tool servers',
    summary: 'Get a tool server',
    params: toolServerPath,
    query: noQuery,
    success: { status: 200, description: 'The tool server', schema: toolServerJson },
    errors: ['team_not_found', 'tool_server_not_found'],
    handle: ({ services, params }) => services.toolServers.get(params.team, params.name),
  }),
  defineRoute({
    key: 'PATCH /teams/{team}/tool-servers/{name}',
    operationId: 'updateToolServer',
    tag: 'Tool servers',
    summary: 'Change a tool server',
    description: `Fields not sent keep their value; \`auth\` is replaced as a whole except that a static secret (and header) not sent is kept. Name and kind are immutable (422). \`policy\` is replaced as a whole (\`{}\` clears it). ${policyNote} The same code as the CLI. ${teamAdminLimits} ${appliesTo}`,
    params: toolServerPath,
    query: noQuery,
    body: toolServerPatchBody,
    success: { status: 200, description: 'The changed tool server', schema: toolServerJson },
    errors: ['invalid_body', 'team_not_found', 'tool_server_not_found', 'conflict', 'unprocessable'],
    handle: ({ services, params, body, principal }) => services.toolServers.update(principal, params.team, params.name, body),
  }),
  defineRoute({
    key: 'DELETE /teams/{team}/tool-servers/{name}',
    operationId: 'removeToolServer',
    tag: 'Tool servers',
    summary: 'Remove a tool server',
    description: appliesTo,
    params: toolServerPath,
    query: noQuery,
    success: { status: 204, description: 'Removed' },
    errors: ['team_not_found', 'tool_server_not_found'],
    handle: ({ services, params, principal }) => services.toolServers.remove(principal, params.team, params.name),
  }),
];
