/**
 * Server-rendered pages of the authorization server: escaping, the shared layout, and the headers every page gets —
 * a strict Content-Security-Policy (no script at all, styles only from our own static stylesheet, forms only to
 * ourselves and to the client's redirect origin), no caching, no framing, and no referrer for other origins.
 *
 * The referrer policy is `same-origin`, not `no-referrer`: under `no-referrer` browsers send `Origin: null` with a
 * form POST (Fetch, "serializing a request origin"), which the gateway's Origin check refuses with 403 — the login
 * and consent forms would fail in every real browser. `same-origin` keeps the real Origin on our own form posts and
 * still sends nothing (no referrer, no query with `state`) to the client, the identity provider or anyone else.
 */
import type { Response } from 'express';

export const STYLESHEET_PATH = '/oauth/assets/pages.css';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and double- or single-quoted attributes. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A tagged template whose interpolations are escaped unless wrapped in `raw()`. */
export interface Html {
  readonly html: string;
}
export const raw = (html: string): Html => ({ html });
export function html(strings: TemplateStringsArray, ...values: (string | number | Html | Html[] | undefined | false)[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    if (Array.isArray(v)) out += v.map((h) => h.html).join('');
    else if (typeof v === 'object') out += v.html;
    else if (v !== undefined && v !== false) out += escapeHtml(String(v));
    out += strings[i + 1]!;
  });
  return { html: out };
}

export interface PageOptions {
  status?: number;
  title: string;
  body: Html;
  /** Origins (besides our own) that a form on this page may end up at: redirects after a POST count (CSP form-action). */
  formTargets?: string[];
  /** The stylesheet to link instead of the login pages' own (the console's is wider; same-origin either way). */
  stylesheet?: string;
}

function layout(title: string, body: Html, stylesheet: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${escapeHtml(title)} · Switchboard</title>
<link rel="stylesheet" href="${escapeHtml(stylesheet)}">
</head>
<body>
<main>
${body.html}
</main>
</body>
</html>
`;
}

export function sendPage(res: Response, opts: PageOptions): void {
  // Origins, or scheme sources (`cursor:`) for native apps' private-use redirect URIs.
  const targets = [...new Set(opts.formTargets ?? [])].filter((o) => /^https?:\/\/[^\s;,'"]+$/.test(o) || /^[a-z][a-z0-9+.-]*:$/.test(o));
  res
    .status(opts.status ?? 200)
    .set({
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      Pragma: 'no-cache',
      'Content-Security-Policy': [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        `form-action 'self'${targets.map((t) => ` ${t}`).join('')}`,
        "frame-ancestors 'none'",
        "base-uri 'none'",
      ].join('; '),
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'same-origin',
    })
    .send(layout(opts.title, opts.body, opts.stylesheet ?? STYLESHEET_PATH));
}

export const STYLESHEET = `:root{color-scheme:light dark;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5}
body{margin:0;display:flex;justify-content:center;padding:2rem 1rem}
main{max-width:28rem;width:100%}
h1{font-size:1.5rem;margin:0 0 1rem}
p,dl{margin:0 0 1rem}
dt{font-weight:600}
dd{margin:0 0 .5rem}
label{display:block;font-weight:600;margin-bottom:.25rem}
input[type=email]{box-sizing:border-box;width:100%;padding:.6rem;font:inherit;border:1px solid #888;border-radius:.375rem}
.actions{display:flex;gap:.75rem;margin-top:1rem}
button,.button{font:inherit;padding:.6rem 1.2rem;border-radius:.375rem;border:1px solid #1a56db;background:#1a56db;color:#fff;cursor:pointer;text-decoration:none;display:inline-block}
button.secondary{background:transparent;color:inherit;border-color:#888}
button:focus-visible,.button:focus-visible,input:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.note{font-size:.9rem;opacity:.85}
.error{border-left:4px solid #c81e1e;padding-left:.75rem}
code{overflow-wrap:anywhere;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:.9em}
`;
