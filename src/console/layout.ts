/**
 * The console's page frame: the login pages' escaping, headers and strict Content-Security-Policy (`sendPage`: no
 * script at all, styles only from a same-origin stylesheet, forms only to ourselves), a wider stylesheet of its
 * own, and a header with the navigation, who is signed in and a sign-out button. Tables scroll sideways on a phone.
 */
import type { Response } from 'express';
import { html, sendPage, STYLESHEET, type Html } from '../authserver/html.js';
import type { AdminPrincipal } from '../admin/admin-principal.js';
import type { ConsoleSession } from './console-cookies.js';
import { RETRY_AFTER_SECONDS } from '../errors.js';

export const CONSOLE_STYLESHEET_PATH = '/console/assets/console.css';

/** Who is looking at a page: their rights and their session (for the CSRF token of every form). */
export interface Viewer {
  principal: AdminPrincipal;
  session: ConsoleSession;
}

export type Section = 'sessions' | 'activity' | 'teams';

const SECTIONS: { id: Section; label: string; href: string }[] = [
  { id: 'sessions', label: 'Sessions', href: '/console/sessions' },
  { id: 'activity', label: 'Activity', href: '/console/activity' },
  { id: 'teams', label: 'Teams', href: '/console/teams' },
];

/** The hidden field every state-changing console form carries. */
export function csrfField(viewer: Viewer): Html {
  return html`<input type="hidden" name="csrf" value="${viewer.session.csrf}">`;
}

function roleOf(p: AdminPrincipal): string {
  if (p.platform) return 'platform admin';
  return p.adminTeams.size > 0 ? `admin of ${[...p.adminTeams.keys()].join(', ')}` : 'no admin rights';
}

function header(viewer: Viewer | undefined, active: Section | undefined): Html {
  if (!viewer) return html`<header class="top"><span class="brand">Switchboard console</span></header>`;
  const admin = viewer.principal.platform || viewer.principal.adminTeams.size > 0;
  const links = admin
    ? SECTIONS.map((s) => (s.id === active ? html`<a href="${s.href}" aria-current="page">${s.label}</a>` : html`<a href="${s.href}">${s.label}</a>`))
    : [];
  return html`<header class="top">
<span class="brand">Switchboard console</span>
<nav aria-label="Console">${links}</nav>
<form method="post" action="/console/logout" class="who">
  ${csrfField(viewer)}
  <span>${viewer.principal.email ?? viewer.principal.userId ?? ''} <span class="note">(${roleOf(viewer.principal)})</span></span>
  <button type="submit" class="secondary small">Sign out</button>
</form>
</header>`;
}

export interface ConsolePage {
  title: string;
  body: Html;
  viewer?: Viewer | undefined;
  section?: Section;
  status?: number;
}

export function sendConsolePage(res: Response, page: ConsolePage): void {
  sendPage(res, {
    status: page.status ?? 200,
    title: `${page.title} · Console`,
    stylesheet: CONSOLE_STYLESHEET_PATH,
    body: html`${header(page.viewer, page.section)}
<h1>${page.title}</h1>
${page.body}`,
  });
}

/** A refusal or a problem with the request, saying what was wrong, with a way back. */
export function sendConsoleError(
  res: Response,
  status: number,
  title: string,
  message: string,
  opts: { viewer?: Viewer | undefined; back?: { href: string; label: string } } = {},
): void {
  if (status === 503) res.set('Retry-After', String(RETRY_AFTER_SECONDS));
  const back = opts.back ?? { href: '/console', label: 'Back to the console' };
  sendConsolePage(res, {
    status,
    title,
    viewer: opts.viewer,
    body: html`<p class="error" role="alert">${message}</p>
<p><a href="${back.href}">${back.label}</a></p>`,
  });
}

/** Times as people read them in a table: UTC to the second, with the exact instant in `datetime`. */
export function timeCell(iso: string | null): Html {
  if (iso === null) return html`<span class="note">—</span>`;
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace('T', ' ')}</time>`;
}

/** The login pages' stylesheet plus the console's layout: wide main column, header bar, tables, chart, small forms. */
export const CONSOLE_STYLESHEET = `${STYLESHEET}
body{padding:0 1rem 2rem}
main{max-width:76rem}
.top{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.25rem;padding:.75rem 0;margin-bottom:1rem;border-bottom:1px solid #8884}
.brand{font-weight:700}
.top nav{display:flex;gap:1rem;flex-wrap:wrap}
.top nav a{text-decoration:none;color:inherit;padding:.2rem 0;border-bottom:2px solid transparent}
.top nav a[aria-current=page]{border-bottom-color:#1a56db;font-weight:600}
.who{margin-left:auto;display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
.scroll{overflow-x:auto;margin:0 0 1rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #8884;vertical-align:top}
th{font-weight:600}
th,td{white-space:nowrap}
td code{overflow-wrap:normal}
td form{display:inline-flex;gap:.35rem;margin:0 .25rem .25rem 0;align-items:center}
.filters,.add{display:flex;flex-wrap:wrap;gap:.75rem;align-items:flex-end;margin:0 0 1rem;padding:.75rem;border:1px solid #8884;border-radius:.375rem}
.filters label,.add label{font-size:.85rem;margin:0}
.filters div,.add div{display:flex;flex-direction:column;justify-content:flex-end;gap:.2rem}
input[type=text],input[type=email],input[type=url],input[type=password],select{box-sizing:border-box;width:auto;min-width:10rem;height:2.4rem;padding:.4rem;font:inherit;border:1px solid #888;border-radius:.375rem;background:Canvas;color:CanvasText}
button.small,.button.small{padding:.3rem .7rem;font-size:.85rem}
td details form{display:flex;flex-direction:column;align-items:flex-start}
textarea{box-sizing:border-box;max-width:100%;padding:.4rem;font:.85rem ui-monospace,monospace;border:1px solid #888;border-radius:.375rem;background:Canvas;color:CanvasText}
button.danger{background:#c81e1e;border-color:#c81e1e}
.notice{border-left:4px solid #0e9f6e;padding-left:.75rem}
.pill{display:inline-block;padding:0 .45rem;border-radius:1rem;font-size:.8rem;border:1px solid #8888}
.pill.ok{border-color:#0e9f6e}
.pill.bad{border-color:#c81e1e}
.pager{display:flex;gap:1rem}
figure{margin:0 0 1rem}
.chart{width:100%;max-width:48rem;height:auto;display:block}
.chart .calls{fill:#1a56db}
.chart .errors{fill:#c81e1e}
.chart .axis{stroke:#888;stroke-width:1}
.chart text{fill:currentColor;font-size:11px}
.legend{display:flex;gap:1rem;font-size:.85rem}
.swatch{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:-.1rem}
.swatch.calls{background:#1a56db}
.swatch.errors{background:#c81e1e}
@media (max-width:40rem){.who{margin-left:0}input[type=text],input[type=email],input[type=url],input[type=password],select{min-width:0;width:100%}.filters div,.add div{flex:1 1 100%}}
`;
