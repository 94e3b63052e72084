/**
 * The session's client as tool servers see it (`SessionDownstream`): what the gateway sends it outside any request
 * (upstream list changes, resource updates, messages on an upstream's standalone stream), and what it declared.
 * Created before the session's `Server` (tool-server connections need it) and attached to it afterwards.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { ResultSchema, type ClientCapabilities, type LoggingLevel } from '@modelcontextprotocol/sdk/types.js';
import type { Downstream, SessionDownstream } from '../toolservers/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';

/**
 * `capabilities`: what the client declared in `initialize`, from the session's own record (its SDK server may not
 * exist yet: it is built on first need, see `live-session.ts`).
 */
export function createSessionDownstream(capabilities: () => ClientCapabilities | undefined): {
  downstream: SessionDownstream;
  attach(server: Server): void;
  setLogLevel(level: LoggingLevel): void;
} {
  let server: Server | undefined;
  let level: LoggingLevel | undefined;
  // Without a server yet the client has no stream open to this session (its SDK server is built by the first
  // request that needs it, a GET stream included): nothing can reach it, as the SDK drops such messages too.
  const need = () => {
    if (!server) throw new Error('the session has no open stream to the client');
    return server;
  };
  const ignore = () => undefined;
  return {
    downstream: {
      notify: (n) => need().notification(n),
      request: (r, o) => need().request(r, ResultSchema, { ...(o.signal ? { signal: o.signal } : {}), ...(o.timeoutMs ? { timeout: o.timeoutMs } : {}) }),
      clientCapabilities: capabilities,
      logLevel: () => level,
      listChanged(kind) {
        if (!server) return;
        const sent = kind === 'tools' ? server.sendToolListChanged() : kind === 'prompts' ? server.sendPromptListChanged() : server.sendResourceListChanged();
        void sent.catch(ignore);
      },
      resourceUpdated(uri) {
        void server?.sendResourceUpdated({ uri }).catch(ignore);
      },
    },
    attach(s) {
      server = s;
    },
    setLogLevel(l) {
      level = l;
    },
  };
}

/** The downstream of one request being served: its notifications and nested requests go on that request's stream. */
export function requestDownstream(extra: RequestHandlerExtra<ServerRequest, ServerNotification>): Downstream {
  return {
    notify: (n) => extra.sendNotification(n),
    request: (r, o) => extra.sendRequest(r, ResultSchema, { ...(o.signal ? { signal: o.signal } : {}), ...(o.timeoutMs ? { timeout: o.timeoutMs } : {}) }),
  };
}
