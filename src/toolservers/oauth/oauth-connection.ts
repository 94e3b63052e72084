/**
 * An `oauth` tool server as a session's `ToolServerConnection`: the remote connection, behind a check that the user
 * has connected their account there. Without a connection (or once the upstream refused to refresh it):
 * - `tools/list` shows the tools a connected user saw last (empty until someone has connected), so the model knows
 *   what it could call;
 * - `tools/call` puts a URL-mode elicitation (`elicitation/create`, mode `url`) pointing at the connect page to a
 *   client that declared it — for a 2026-07-28 client the flight turns that into `input_required` — and answers
 *   with a tool error whose text carries the same link (all a client that supports neither gets), so the call can
 *   be retried once the person has connected;
 * - `prompts/get`, `resources/read` and subscriptions answer JSON-RPC -32042 (URL elicitation required) with the link;
 * - other lists are empty, completions have no values.
 * The connection has no `relay`: calls take the SDK client path, where a 401 renews the token once
 * (`upstream-client.ts`), so a refused refresh surfaces here as the connect prompt, never as a loop.
 */
import { randomUUID } from 'node:crypto';
// The aggregator passes upstream answers on by `instanceof McpError` of the SDK it uses; this must be the same class.
import { McpError } from '../../mcp/mcp-error.js';
import type { CallContext, SessionDownstream, ToolServerConnection, ToolServerDefinition } from '../types.js';
import type { Logger } from '../../observability/logger.js';
import { connectRequiredIn } from './connect-required.js';
import type { OAuthCredentials, UpstreamOAuth } from './upstream-oauth.js';

/** JSON-RPC error code of the URL elicitation required error (MCP 2025-11-25, elicitation §URL mode). */
export const URL_ELICITATION_REQUIRED = -32042;
/** How long the person has to answer the elicitation before the tool error is returned anyway. */
const ELICITATION_TIMEOUT_MS = 5 * 60_000;

export function oauthConnection(opts: {
  inner: ToolServerConnection;
  def: ToolServerDefinition;
  teamId: string;
  credentials: OAuthCredentials;
  oauth: UpstreamOAuth;
  connectUrl: () => string;
  downstream: SessionDownstream;
  logger: Logger;
}): ToolServerConnection {
  const { inner, def, credentials, oauth } = opts;
  const message = `Connect your ${def.name} account to use this: open the link, sign in there, then try again.`;

  /** Runs `fn` when the user is connected; otherwise `without(link)`. */
  async function connected<T>(fn: () => Promise<T>, without: (link: string) => Promise<T> | T): Promise<T> {
    try {
      await credentials.token();
      return await fn();
    } catch (err) {
      if (!connectRequiredIn(err)) throw err;
      return without(opts.connectUrl());
    }
  }

  const elicitationRequired = (link: string): never => {
    throw new McpError(URL_ELICITATION_REQUIRED, message, { elicitations: [{ mode: 'url', elicitationId: randomUUID(), url: link, message }] });
  };

  async function prompt(link: string, call: CallContext) {
    const caps = opts.downstream.clientCapabilities() as { elicitation?: { url?: unknown } } | undefined;
    if (caps?.elicitation?.url !== undefined) {
      try {
        await (call.downstream ?? opts.downstream).request(
          { method: 'elicitation/create', params: { mode: 'url', elicitationId: randomUUID(), url: link, message } } as never,
          { signal: call.signal, timeoutMs: ELICITATION_TIMEOUT_MS },
        );
      } catch (err) {
        // Declined, cancelled or unanswerable: the tool error below still carries the link.
        opts.logger.debug({ err, toolServer: def.name }, 'connect elicitation not answered');
      }
    }
    return { isError: true, content: [{ type: 'text' as const, text: `${message}\n${link}` }] };
  }

  const optional = <K extends keyof ToolServerConnection>(k: K) => inner[k] !== undefined;

  return {
    name: inner.name,
    prefix: inner.prefix,
    listTools: (call) =>
      connected(
        async () => {
          const tools = await inner.listTools(call);
          await oauth.rememberTools(def, opts.teamId, tools).catch((err: unknown) => opts.logger.warn({ err, toolServer: def.name }, 'could not store the tool listing'));
          return tools;
        },
        async () => (await oauth.storedTools(def, opts.teamId)) as Awaited<ReturnType<ToolServerConnection['listTools']>>,
      ),
    callTool: (name, args, call) =>
      connected(
        () => inner.callTool(name, args, call),
        (link) => prompt(link, call),
      ),
    ...(optional('listPrompts') ? { listPrompts: (call: CallContext) => connected(() => inner.listPrompts!(call), () => []) } : {}),
    ...(optional('getPrompt') ? { getPrompt: (n, a, call) => connected(() => inner.getPrompt!(n, a, call), elicitationRequired) } : {}),
    ...(optional('listResources') ? { listResources: (call: CallContext) => connected(() => inner.listResources!(call), () => []) } : {}),
    ...(optional('listResourceTemplates') ? { listResourceTemplates: (call: CallContext) => connected(() => inner.listResourceTemplates!(call), () => []) } : {}),
    ...(optional('readResource') ? { readResource: (uri, call) => connected(() => inner.readResource!(uri, call), elicitationRequired) } : {}),
    ...(optional('subscribeResource') ? { subscribeResource: (uri, call) => connected(() => inner.subscribeResource!(uri, call), elicitationRequired) } : {}),
    ...(optional('unsubscribeResource') ? { unsubscribeResource: (uri, call) => connected(() => inner.unsubscribeResource!(uri, call), () => undefined) } : {}),
    ...(optional('complete') ? { complete: (p, call) => connected(() => inner.complete!(p, call), () => ({ completion: { values: [] } })) } : {}),
    ...(inner.setLogLevel ? { setLogLevel: (level) => inner.setLogLevel!(level) } : {}),
    ...(inner.rootsChanged ? { rootsChanged: () => inner.rootsChanged!() } : {}),
    ...(inner.listen ? { listen: (on: boolean) => inner.listen!(on) } : {}),
    close: (o) => inner.close(o),
  } satisfies ToolServerConnection;
}
