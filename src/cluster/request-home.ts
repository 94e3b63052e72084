/**
 * Where the answer to a request the gateway put to a client must go. A relayed call waiting for the client's answer
 * to an upstream's elicitation or sampling request lives in one replica's memory, but the client's answering POST may
 * reach any replica. So the ids the gateway gives such requests name the replica that waits (`sb-relay:<replica>:<n>`,
 * `sb-ask:<replica>:<n>`); a replica that receives an answer for another forwards it over the bus (`cluster/bus.ts`).
 *
 * The replica id only routes: the answer is matched in the memory of the session it was forwarded for (the session
 * the client proved it owns on the replica it reached), so an id copied into another session's POST answers nothing.
 */

export const RELAY_PREFIX = 'sb-relay:';
export const ASK_PREFIX = 'sb-ask:';

/** A replica id as `bus.ts` makes them: 12 lowercase hex digits. */
const REPLICA = /^[0-9a-f]{12}$/;

/** The id of the `n`th request `replica` puts to a client, with `prefix` saying which part of the session waits. */
export const requestIdFor = (prefix: string, replica: string, n: number): string => `${prefix}${replica}:${n}`;

/** The replica waiting for the answer with this id, if it is one of the gateway's request ids. */
export function homeOf(id: unknown): string | undefined {
  if (typeof id !== 'string') return undefined;
  const prefix = id.startsWith(RELAY_PREFIX) ? RELAY_PREFIX : id.startsWith(ASK_PREFIX) ? ASK_PREFIX : undefined;
  if (!prefix) return undefined;
  const replica = id.slice(prefix.length, id.indexOf(':', prefix.length));
  return REPLICA.test(replica) ? replica : undefined;
}

/** A client's message that answers one of the gateway's requests: a response (no method) with such an id. */
export function isAnswer(m: unknown): m is { id: string; result?: unknown; error?: unknown } {
  if (!m || typeof m !== 'object' || Array.isArray(m)) return false;
  const r = m as { method?: unknown; id?: unknown };
  return r.method === undefined && typeof r.id === 'string' && (r.id.startsWith(RELAY_PREFIX) || r.id.startsWith(ASK_PREFIX));
}
