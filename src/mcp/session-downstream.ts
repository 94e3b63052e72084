/**
 * The session's client as tool servers see it (`SessionDownstream`): what the gateway sends it outside any request
 * (upstream list changes, resource updates, messages and requests on an upstream's standalone stream), on the
 * session's own stream (`session-stream.ts`), and what it declared (from the session's record).
 */
import type { ClientCapabilities, LoggingLevel, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { ResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Downstream, SessionDownstream } from '../toolservers/types.js';
import type { SessionStream } from './session-stream.js';

export function createSessionDownstream(capabilities: () => ClientCapabilities | undefined, stream: SessionStream): { downstream: SessionDownstream; setLogLevel(level: LoggingLevel): void } {
  let level: LoggingLevel | undefined;
  const ignore = () => undefined;
  return {
    downstream: {
      notify: (n) => stream.notify(n),
      request: (r, o) => stream.request(r, o),
      clientCapabilities: capabilities,
      logLevel: () => level,
      listChanged(kind) {
        void stream.notify({ method: `notifications/${kind}/list_changed` }).catch(ignore);
      },
      resourceUpdated(uri) {
        void stream.notify({ method: 'notifications/resources/updated', params: { uri } }).catch(ignore);
      },
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
