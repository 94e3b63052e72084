/**
 * The activity page: recent tool calls from the audit trail (`listAudit`, the service behind `GET /admin/v1/audit`)
 * in the viewer's teams, filtered by team, user e-mail, tool, outcome and period, and a chart of calls and errors
 * per minute over the last hour (`toolCallsPerMinute`, same scope and filters).
 */
import type { Request } from 'express';
import { z } from 'zod';
import { html, type Html } from '../authserver/html.js';
import type { AuditRecordJson } from '../admin/audit-service.js';
import { auditQuery, TOOL_CALL_OUTCOMES } from '../admin/request-schemas.js';
import type { ConsoleDeps } from './console-router.js';
import { activityChart } from './activity-chart.js';
import { fieldsOf, parseInput } from './console-input.js';
import { sendConsolePage, timeCell, type Viewer } from './layout.js';
import type { ConsoleRoutes } from './console-router.js';

const PAGE_SIZE = 50;
const PERIODS = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, all: undefined } as const;
type Period = keyof typeof PERIODS;

const activityPageQuery = z.strictObject({
  team: z.string().optional(),
  user: z.string().optional(),
  tool: z.string().optional(),
  outcome: z.string().optional(),
  period: z.enum(Object.keys(PERIODS) as [Period, ...Period[]]).default('24h'),
  cursor: z.string().optional(),
});
type ActivityFilters = Omit<z.output<typeof activityPageQuery>, 'cursor'>;

function activityUrl(f: Partial<Record<keyof ActivityFilters | 'cursor', string | undefined>>): string {
  const params = new URLSearchParams(Object.entries(f).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''));
  const text = params.toString();
  return text ? `/console/activity?${text}` : '/console/activity';
}

function options(values: readonly string[], selected: string | undefined, labels: Record<string, string> = {}): Html[] {
  return values.map((v) => html`<option value="${v}"${v === selected ? html` selected` : undefined}>${labels[v] ?? v}</option>`);
}

function recordRow(r: AuditRecordJson): Html {
  return html`<tr>
<td>${timeCell(r.at)}</td>
<td>${r.userEmail ?? html`<span class="note">${r.userId ?? '—'}</span>`}</td>
<td><a href="/console/teams/${r.team}">${r.team}</a></td>
<td><code>${r.tool}</code></td>
<td><span class="pill ${r.outcome === 'ok' ? 'ok' : 'bad'}">${r.outcome}</span></td>
<td>${r.durationMs === null ? html`<span class="note">—</span>` : `${r.durationMs} ms`}</td>
<td>${r.chatId ?? html`<span class="note">—</span>`}</td>
</tr>`;
}

async function showActivity(req: Request, deps: ConsoleDeps, viewer: Viewer): Promise<Html> {
  const page = parseInput(activityPageQuery, fieldsOf(req.query), 'query');
  const { cursor, ...filters } = page;
  const span = PERIODS[filters.period];
  // The admin API's own query schema judges the filters, so both say the same about a bad one.
  const q = parseInput(
    auditQuery,
    {
      ...fieldsOf({ team: filters.team, user: filters.user, tool: filters.tool, outcome: filters.outcome, cursor }),
      ...(span === undefined ? {} : { from: new Date(deps.clock() - span).toISOString() }),
      limit: String(PAGE_SIZE),
    },
    'query',
  );
  const [list, perMinute, teams] = await Promise.all([
    deps.services.audit.list(viewer.principal, q),
    deps.services.audit.perMinute(viewer.principal, q),
    deps.services.teams.listVisibleTo(viewer.principal, { limit: 200 }),
  ]);
  const teamOptions = [html`<option value="">All teams</option>`, ...teams.items.map((t) => html`<option value="${t.slug}"${t.slug === q.team ? html` selected` : undefined}>${t.name} (${t.slug})</option>`)];
  const rows = list.items.map(recordRow);
  return html`<form method="get" action="/console/activity" class="filters" role="search">
  <div><label for="f-team">Team</label><select id="f-team" name="team">${teamOptions}</select></div>
  <div><label for="f-user">User e-mail</label><input type="email" id="f-user" name="user" value="${q.user ?? ''}"></div>
  <div><label for="f-tool">Tool</label><input type="text" id="f-tool" name="tool" value="${q.tool ?? ''}" placeholder="demo__echo"></div>
  <div><label for="f-outcome">Outcome</label><select id="f-outcome" name="outcome"><option value="">Any</option>${options(TOOL_CALL_OUTCOMES, q.outcome)}</select></div>
  <div><label for="f-period">Period</label><select id="f-period" name="period">${options(Object.keys(PERIODS), filters.period, { '1h': 'last hour', '24h': 'last 24 hours', '7d': 'last 7 days', all: 'all' })}</select></div>
  <div><button type="submit" class="small">Filter</button></div>
</form>
<h2>Last hour</h2>
${activityChart(perMinute)}
<h2>Recent tool calls</h2>
${
  rows.length
    ? html`<div class="scroll"><table>
<thead><tr><th>Time</th><th>User</th><th>Team</th><th>Tool</th><th>Outcome</th><th>Duration</th><th>Chat</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>`
    : html`<p>No tool calls match.</p>`
}
<p class="pager">${cursor ? html`<a href="${activityUrl(filters)}">Newest</a>` : undefined}${
    list.nextCursor ? html`<a href="${activityUrl({ ...filters, cursor: list.nextCursor })}">Older calls →</a>` : undefined
  }</p>`;
}

export function activityRoutes(routes: ConsoleRoutes, deps: ConsoleDeps): void {
  routes.page('/activity', async (req, res, viewer) => {
    sendConsolePage(res, { title: 'Activity', section: 'activity', viewer, body: await showActivity(req, deps, viewer) });
  });
}
