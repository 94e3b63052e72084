/**
 * The teams pages: the list of teams the viewer manages (every team for platform admins), and one team's page with
 * its members, pending invitations and tool servers, each with its forms (see `team-forms.ts` for what they do).
 * Tool-server secrets are write-only: the page says whether one is stored, never what it is. Each tool server shows
 * the outcome of the latest call through it (from the audit trail), the upstream's health as last seen.
 */
import type { Request } from 'express';
import { z } from 'zod';
import { html, type Html } from '../authserver/html.js';
import type { toMemberJson, toInvitationJson } from '../admin/members-service.js';
import type { LastCall } from '../admin/audit-service.js';
import type { ConsoleDeps } from './console-router.js';
import { BUILTIN_PACKS } from '../toolservers/packs/index.js';
import type { ToolServerJson } from '../toolservers/tool-server-config.js';
import { fieldsOf, parseInput } from './console-input.js';
import { csrfField, sendConsolePage, timeCell, type Viewer } from './layout.js';
import type { ConsoleRoutes } from './console-router.js';
import { managedTeam, teamFormRoutes, TEAM_NOTICES } from './team-forms.js';

const LIST_LIMIT = 200;

type MemberJson = ReturnType<typeof toMemberJson>;
type InvitationJson = ReturnType<typeof toInvitationJson>;

async function showTeams(req: Request, deps: ConsoleDeps, viewer: Viewer): Promise<Html> {
  const { cursor } = parseInput(z.strictObject({ cursor: z.string().max(500).optional() }), fieldsOf(req.query), 'query');
  const list = await deps.services.teams.listVisibleTo(viewer.principal, { cursor, limit: LIST_LIMIT });
  const publicUrl = deps.config.publicUrl;
  const rows = list.items.map(
    (t) => html`<tr><td><a href="/console/teams/${t.slug}">${t.slug}</a></td><td>${t.name}</td><td>${t.joinPolicy}</td><td><code>${publicUrl}/t/${t.slug}/mcp</code></td></tr>`,
  );
  return html`${viewer.principal.platform ? undefined : html`<p class="note">The teams you administer.</p>`}
${rows.length ? html`<div class="scroll"><table><thead><tr><th>Team</th><th>Name</th><th>Join policy</th><th>MCP endpoint</th></tr></thead><tbody>${rows}</tbody></table></div>` : html`<p>No teams yet.</p>`}
${list.nextCursor ? html`<p class="pager"><a href="/console/teams?cursor=${list.nextCursor}">More teams →</a></p>` : undefined}`;
}

function roleOptions(selected: string): Html[] {
  return ['member', 'admin'].map((r) => html`<option value="${r}"${r === selected ? html` selected` : undefined}>${r}</option>`);
}

function memberRow(slug: string, m: MemberJson, viewer: Viewer): Html {
  const base = `/console/teams/${slug}/members/${m.userId}`;
  return html`<tr>
<td>${m.email ?? html`<span class="note">(no e-mail)</span>`}${m.name ? html`<br><span class="note">${m.name}</span>` : undefined}</td>
<td>${m.role}</td>
<td>${timeCell(m.createdAt)}</td>
<td>
<form method="post" action="${base}/role">${csrfField(viewer)}<label class="note" for="role-${m.userId}">Role</label><select id="role-${m.userId}" name="role">${roleOptions(m.role)}</select><button type="submit" class="small secondary">Set role</button></form>
<form method="post" action="${base}/remove">${csrfField(viewer)}<button type="submit" class="small danger">Remove</button></form>
</td>
</tr>`;
}

function invitationRow(slug: string, i: InvitationJson, viewer: Viewer): Html {
  return html`<tr><td>${i.email}</td><td>${i.role}</td><td>${timeCell(i.createdAt)}</td>
<td><form method="post" action="/console/teams/${slug}/invitations/${encodeURIComponent(i.email)}/withdraw">${csrfField(viewer)}<button type="submit" class="small secondary">Withdraw</button></form></td></tr>`;
}

function authText(ts: ToolServerJson): Html {
  if (!ts.auth) return html`<span class="note">—</span>`;
  if (ts.auth.mode !== 'static') return html`${ts.auth.mode}`;
  return html`static <span class="note">(${ts.auth.header ?? 'Authorization'}; secret ${ts.auth.secretSet ? 'set' : 'not set'})</span>`;
}

/** The upstream's health as last seen: the outcome of the latest call through it (see `lastCallByToolServer`). */
function lastCallText(ts: ToolServerJson, last: LastCall | undefined): Html {
  if (!ts.prefix) return html`<span class="note">not tracked (no prefix)</span>`;
  if (!last) return html`<span class="note">no calls in 24 h</span>`;
  return html`<span class="pill ${last.outcome === 'ok' ? 'ok' : 'bad'}">${last.outcome}</span> ${timeCell(last.at.toISOString())}`;
}

/** How many rules the policy has, and a form to edit it (JSON; see the README's "Who may use which tool"). */
function policyCell(base: string, ts: ToolServerJson, viewer: Viewer): Html {
  const rules = Object.values(ts.policy).reduce((n, r) => n + Object.keys(r ?? {}).length, 0);
  const text = rules ? JSON.stringify(ts.policy, null, 2) : '';
  return html`<details><summary>${rules ? `${rules} rule${rules === 1 ? '' : 's'}` : 'open to every member'}</summary>
<form method="post" action="${base}/policy">${csrfField(viewer)}<label class="note" for="policy-${ts.name}">Policy (JSON)</label>
<textarea id="policy-${ts.name}" name="policy" rows="6" cols="48" spellcheck="false" placeholder='{"tools": {"create_issue": {"roles": ["admin"]}, "delete_repo": {"hidden": true}}}'>${text}</textarea>
<button type="submit" class="small secondary">Save policy</button></form></details>`;
}

function toolServerRow(slug: string, ts: ToolServerJson, last: LastCall | undefined, viewer: Viewer): Html {
  const base = `/console/teams/${slug}/tool-servers/${ts.name}`;
  return html`<tr data-tool-server="${ts.name}">
<td><code>${ts.name}</code>${ts.prefix ? undefined : html` <span class="note">(no prefix)</span>`}</td>
<td>${ts.kind === 'builtin' ? html`pack <code>${ts.pack ?? ''}</code>` : html`<code>${ts.url ?? ''}</code>`}</td>
<td>${authText(ts)}</td>
<td><span class="pill ${ts.enabled ? 'ok' : 'bad'}">${ts.enabled ? 'enabled' : 'disabled'}</span></td>
<td>${lastCallText(ts, last)}</td>
<td>${policyCell(base, ts, viewer)}</td>
<td>
<form method="post" action="${base}/${ts.enabled ? 'disable' : 'enable'}">${csrfField(viewer)}<button type="submit" class="small secondary">${ts.enabled ? 'Disable' : 'Enable'}</button></form>
<form method="post" action="${base}/remove">${csrfField(viewer)}<button type="submit" class="small danger">Remove</button></form>
</td>
</tr>`;
}

function addMemberForm(slug: string, viewer: Viewer): Html {
  return html`<form method="post" action="/console/teams/${slug}/members" class="add">${csrfField(viewer)}
  <div><label for="m-email">E-mail address</label><input type="email" id="m-email" name="email" required autocomplete="off"></div>
  <div><label for="m-role">Role</label><select id="m-role" name="role">${roleOptions('member')}</select></div>
  <div><button type="submit" class="small">Add member</button></div>
</form>
<p class="note">Someone who has not signed in yet (or whom you cannot see) is invited: the invitation becomes a membership at their first sign-in.</p>`;
}

function addToolServerForm(slug: string, viewer: Viewer): Html {
  const packs = [...BUILTIN_PACKS.keys()].map((p) => html`<option value="${p}">${p}</option>`);
  return html`<form method="post" action="/console/teams/${slug}/tool-servers" class="add">${csrfField(viewer)}
  <div><label for="t-name">Name</label><input type="text" id="t-name" name="name" required maxlength="32" placeholder="github"></div>
  <div><label for="t-kind">Kind</label><select id="t-kind" name="kind"><option value="remote">remote MCP server</option><option value="builtin">built-in pack</option></select></div>
  <div><label for="t-pack">Pack (built-in)</label><select id="t-pack" name="pack">${packs}</select></div>
  <div><label for="t-url">URL (remote)</label><input type="url" id="t-url" name="url" placeholder="https://mcp.example.com/mcp"></div>
  <div><label for="t-auth">Auth (remote)</label><select id="t-auth" name="authMode"><option value="exchange">exchange (a token per user)</option><option value="none">none</option><option value="static">static header</option><option value="passthrough">passthrough</option></select></div>
  <div><label for="t-header">Header (static)</label><input type="text" id="t-header" name="header" placeholder="Authorization"></div>
  <div><label for="t-secret">Secret (static)</label><input type="password" id="t-secret" name="secret" autocomplete="new-password"></div>
  <div><label for="t-prefix"><input type="checkbox" id="t-prefix" name="prefix" value="on" checked> Prefix tool names</label></div>
  <div><button type="submit" class="small">Add tool server</button></div>
</form>
<p class="note">Secrets are stored encrypted and never shown again. Team admins may not use passthrough or private addresses.</p>`;
}

async function showTeam(req: Request, deps: ConsoleDeps, viewer: Viewer): Promise<{ title: string; body: Html }> {
  const slug = managedTeam(req, viewer);
  const team = await deps.services.teams.find(slug);
  const [members, invitations, toolServers] = await Promise.all([
    deps.services.members.list(slug, { limit: LIST_LIMIT }),
    deps.services.members.listInvitations(slug, { limit: LIST_LIMIT }),
    deps.services.toolServers.list(slug, { limit: LIST_LIMIT }),
  ]);
  const lastCalls = await deps.services.audit.lastCallByToolServer(team.id, toolServers.items.filter((t) => t.prefix).map((t) => t.name));
  const done = typeof req.query.done === 'string' ? TEAM_NOTICES[req.query.done] : undefined;
  const more = (next: string | null) => (next ? html`<p class="note">Showing the first ${LIST_LIMIT}; the admin API lists the rest.</p>` : undefined);
  const body = html`<p><span class="note">Slug</span> <code>${team.slug}</code> · <span class="note">join policy</span> ${team.joinPolicy} · <span class="note">MCP endpoint</span> <code>${deps.config.publicUrl}/t/${team.slug}/mcp</code> · <a href="/console/sessions?team=${team.slug}">sessions</a> · <a href="/console/activity?team=${team.slug}">activity</a></p>
${done ? html`<p class="notice" role="status">${done}</p>` : undefined}
<h2>Members</h2>
${members.items.length ? html`<div class="scroll"><table><thead><tr><th>Member</th><th>Role</th><th>Since</th><th></th></tr></thead><tbody>${members.items.map((m) => memberRow(slug, m, viewer))}</tbody></table></div>` : html`<p>No members yet.</p>`}
${more(members.nextCursor)}
${addMemberForm(slug, viewer)}
${invitations.items.length ? html`<h2>Pending invitations</h2><div class="scroll"><table><thead><tr><th>E-mail</th><th>Role</th><th>Since</th><th></th></tr></thead><tbody>${invitations.items.map((i) => invitationRow(slug, i, viewer))}</tbody></table></div>` : undefined}
<h2>Tool servers</h2>
${toolServers.items.length ? html`<div class="scroll"><table><thead><tr><th>Name</th><th>Target</th><th>Auth</th><th>State</th><th>Last call</th><th>Policy</th><th></th></tr></thead><tbody>${toolServers.items.map((t) => toolServerRow(slug, t, lastCalls.get(t.name), viewer))}</tbody></table></div>` : html`<p>No tool servers yet.</p>`}
${more(toolServers.nextCursor)}
${addToolServerForm(slug, viewer)}`;
  return { title: `Team ${team.name}`, body };
}

export function teamRoutes(routes: ConsoleRoutes, deps: ConsoleDeps): void {
  routes.page('/teams', async (req, res, viewer) => {
    sendConsolePage(res, { title: 'Teams', section: 'teams', viewer, body: await showTeams(req, deps, viewer) });
  });
  routes.page('/teams/:team', async (req, res, viewer) => {
    const { title, body } = await showTeam(req, deps, viewer);
    sendConsolePage(res, { title, section: 'teams', viewer, body });
  });
  teamFormRoutes(routes, deps);
}
