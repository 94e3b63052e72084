/**
 * The sessions page: live sessions across the teams the viewer administers (`listAllSessions`, the service behind
 * `GET /admin/v1/sessions`), filtered by team, user e-mail and chat, newest first in keyset pages; and **End
 * session**, which goes through `endSession` like `DELETE /admin/v1/sessions/{id}`: closed on every replica, so the
 * client's next request gets 404 wherever it lands.
 */
import type { Request } from 'express';
import { z } from 'zod';
import { html, type Html } from '../authserver/html.js';
import { allSessionsQuery, sessionIdParam } from '../admin/request-schemas.js';
import type { ConsoleDeps } from './console-router.js';
import type { SessionJson } from '../sessions/session-json.js';
import { fieldsOf, parseInput } from './console-input.js';
import { csrfField, sendConsolePage, timeCell, type Viewer } from './layout.js';
import type { ConsoleRoutes } from './console-router.js';
import { consolePath } from './sign-in.js';

const PAGE_SIZE = 50;

const sessionsPageQuery = allSessionsQuery
  .pick({ team: true, user: true, chat: true, cursor: true })
  .extend({ status: z.enum(['active', 'closed', 'all']).default('active'), ended: sessionIdParam.optional() });
type SessionsPageQuery = z.output<typeof sessionsPageQuery>;

/** The page's URL with these filters (empty ones left out). */
function sessionsUrl(q: Partial<Record<'team' | 'user' | 'chat' | 'status' | 'cursor' | 'ended', string | undefined>>): string {
  const params = new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''));
  const text = params.toString();
  return text ? `/console/sessions?${text}` : '/console/sessions';
}

async function teamOptions(deps: ConsoleDeps, viewer: Viewer, selected: string | undefined): Promise<Html[]> {
  const { items } = await deps.services.teams.listVisibleTo(viewer.principal, { limit: 200 });
  return [
    html`<option value="">All teams</option>`,
    ...items.map((t) => html`<option value="${t.slug}"${t.slug === selected ? html` selected` : undefined}>${t.name} (${t.slug})</option>`),
  ];
}

function statusOptions(selected: string): Html[] {
  return (['active', 'closed', 'all'] as const).map((s) => html`<option value="${s}"${s === selected ? html` selected` : undefined}>${s}</option>`);
}

function sessionRow(s: SessionJson, viewer: Viewer, back: string): Html {
  const end =
    s.status === 'active'
      ? html`<form method="post" action="/console/sessions/${s.id}/end">${csrfField(viewer)}<input type="hidden" name="back" value="${back}"><button type="submit" class="small danger">End session</button></form>`
      : html`<span class="note">${s.closeReason ?? 'closed'}</span>`;
  return html`<tr data-session-id="${s.id}">
<td>${s.userEmail ?? html`<span class="note">${s.userId}</span>`}</td>
<td><a href="/console/teams/${s.team}">${s.team}</a></td>
<td>${s.chatId ?? html`<span class="note">—</span>`}</td>
<td>${s.clientName ?? s.clientId}${s.clientVersion ? html` <span class="note">${s.clientVersion}</span>` : undefined}<br><code class="note">${s.clientId}</code></td>
<td>${s.protocolVersion}</td>
<td>${timeCell(s.createdAt)}</td>
<td>${timeCell(s.lastSeenAt)}</td>
<td><span class="pill ${s.status === 'active' ? 'ok' : 'bad'}">${s.status}</span></td>
<td>${end}</td>
</tr>`;
}

async function showSessions(req: Request, deps: ConsoleDeps, viewer: Viewer) {
  const q: SessionsPageQuery = parseInput(sessionsPageQuery, fieldsOf(req.query), 'query');
  const filters = { team: q.team, user: q.user, chat: q.chat, status: q.status };
  const list = await deps.services.sessions.listAll(viewer.principal, { ...filters, cursor: q.cursor, limit: PAGE_SIZE });
  const back = sessionsUrl({ ...filters, cursor: q.cursor });
  const rows = list.items.map((s) => sessionRow(s, viewer, back));
  return html`<form method="get" action="/console/sessions" class="filters" role="search">
  <div><label for="f-team">Team</label><select id="f-team" name="team">${await teamOptions(deps, viewer, q.team)}</select></div>
  <div><label for="f-user">User e-mail</label><input type="email" id="f-user" name="user" value="${q.user ?? ''}"></div>
  <div><label for="f-chat">Chat</label><input type="text" id="f-chat" name="chat" value="${q.chat ?? ''}"></div>
  <div><label for="f-status">Status</label><select id="f-status" name="status">${statusOptions(q.status)}</select></div>
  <div><button type="submit" class="small">Filter</button></div>
</form>
${q.ended ? html`<p class="notice" role="status">Session <code>${q.ended}</code> ended. Its client’s next request gets 404.</p>` : undefined}
${
  rows.length
    ? html`<div class="scroll"><table>
<thead><tr><th>User</th><th>Team</th><th>Chat</th><th>Client</th><th>Protocol</th><th>Created</th><th>Last seen</th><th>Status</th><th></th></tr></thead>
<tbody>${rows}</tbody>
</table></div>`
    : html`<p>No sessions match.</p>`
}
<p class="pager">${q.cursor ? html`<a href="${sessionsUrl(filters)}">Newest</a>` : undefined}${
    list.nextCursor ? html`<a href="${sessionsUrl({ ...filters, cursor: list.nextCursor })}">Older sessions →</a>` : undefined
  }</p>`;
}

const endForm = z.object({ back: z.string().max(2000).optional() });

export function sessionRoutes(routes: ConsoleRoutes, deps: ConsoleDeps): void {
  routes.page('/sessions', async (req, res, viewer) => {
    sendConsolePage(res, { title: 'Sessions', section: 'sessions', viewer, body: await showSessions(req, deps, viewer) });
  });

  routes.action('/sessions/:sessionId/end', async (req, res, viewer) => {
    const id = parseInput(sessionIdParam, req.params.sessionId, 'form');
    const { back } = parseInput(endForm, fieldsOf(req.body), 'form');
    await deps.services.sessions.end(viewer.principal, id);
    // Back to the list the button was on, saying which session ended.
    const target = new URL(consolePath(back?.startsWith('/console/sessions') ? back : '/console/sessions'), 'http://console.invalid');
    target.searchParams.set('ended', id);
    res.redirect(303, `${target.pathname}${target.search}`);
  });
}
