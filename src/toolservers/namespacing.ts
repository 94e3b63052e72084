/**
 * How names and resource URIs of a tool server appear to clients (docs/interface.md §4), in one place so every list and
 * every route agrees.
 *
 * - Tools and prompts: `{server}__{name}`.
 * - Resource URIs: `switchboard://{server}/{encodeURIComponent(uri)}`. The upstream URI is one percent-encoded path
 *   segment, so any URI round-trips exactly and the server name is never ambiguous.
 * - Resource templates: the same wrapping, but the template's `{…}` expressions stay as they are so a client can
 *   still expand them; the expanded URI then decodes back to what the upstream's own template would produce.
 * Tool servers with `prefix: false` skip all of this: their names and URIs pass through unchanged.
 */
export const NAMESPACE_SEPARATOR = '__';
export const RESOURCE_SCHEME = 'switchboard:';

export function prefixName(server: string, name: string): string {
  return `${server}${NAMESPACE_SEPARATOR}${name}`;
}

/** `{server}__{name}` → its parts, or undefined when `name` has no server prefix. */
export function splitName(name: string): { server: string; name: string } | undefined {
  const i = name.indexOf(NAMESPACE_SEPARATOR);
  if (i <= 0) return undefined;
  return { server: name.slice(0, i), name: name.slice(i + NAMESPACE_SEPARATOR.length) };
}

export function wrapUri(server: string, uri: string): string {
  return `switchboard://${server}/${encodeURIComponent(uri)}`;
}

/** Wraps a URI template, keeping its RFC 6570 expressions intact. */
export function wrapUriTemplate(server: string, template: string): string {
  const parts = template.split(/(\{[^{}]*\})/);
  return `switchboard://${server}/${parts.map((p) => (p.startsWith('{') && p.endsWith('}') ? p : encodeURIComponent(p))).join('')}`;
}

/** `switchboard://{server}/{encoded}` → its parts; undefined for any other URI (or a malformed one). */
export function unwrapUri(uri: string): { server: string; uri: string } | undefined {
  const m = /^switchboard:\/\/([a-z0-9_-]{1,32})\/(.*)$/s.exec(uri);
  if (!m) return undefined;
  try {
    return { server: m[1]!, uri: decodeURIComponent(m[2]!) };
  } catch {
    return undefined;
  }
}
