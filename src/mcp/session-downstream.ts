/**
 * The session's client as tool servers see it (`SessionDownstream`): what the gateway sends it outside any request
 * (upstream list changes, resource updates, messages on an upstream's standalone stream), and what it declared.
 * Created before the session's `Server` (tool-server connections need it) and attached to it afterwards.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { ResultSchema, type LoggingLevel } from '@modelcontextprotocol/sdk/types.js';
import type { Downstream, SessionDownstream } from '../toolservers/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';

export function createSessionDownstream(): { downstream: SessionDownstream; attach(server: Server): void; setLogLevel(level: LoggingLevel): void } {
  let server: Server | undefined;
  let level: LoggingLevel | undefined;
  const need = () => {
    if (!server) throw new Error('session server not attached');
    return server;
  };
  const ignore = () => undefined;
  return {
    downstream: {
      notify: (n) => need().notification(n),
      request: (r, o) => need().request(r, ResultSchema, { ...(o.signal ? { signal: o.signal } : {}), ...(o.timeoutMs ? { timeout: o.timeoutMs } : {}) }),
      clientCapabilities: () => server?.getClientCapabilities(),
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
