/**
 * Refuses, when a tool server is configured, the name clashes that can be known then (docs/interface.md §4): the tool names
 * of built-in packs are known, so an unprefixed pack clashing with another tool server's tools is refused. A remote
 * server's tool names are only known once it is reached; a clash between two unprefixed remote servers is left to
 * the aggregator, which keeps the first tool server's tool (by name order) and logs the clash.
 */
import { BUILTIN_PACKS } from './packs/index.js';
import { prefixName, splitName } from './namespacing.js';
import { Conflict } from '../errors.js';

export interface ClashCandidate {
  name: string;
  kind: string;
  pack?: string | null | undefined;
  prefix: boolean;
}

/** The exposed tool names of a tool server, when they can be known without reaching it. */
function knownNames(s: ClashCandidate): string[] | undefined {
  if (s.kind !== 'builtin') return undefined;
  const pack = s.pack ? BUILTIN_PACKS.get(s.pack) : undefined;
  return (pack?.tools ?? []).map((t) => (s.prefix ? prefixName(s.name, t.name) : t.name));
}

export function assertNoNameClash(candidate: ClashCandidate, others: ClashCandidate[]): void {
  const mine = knownNames(candidate);
  for (const other of others) {
    if (other.name === candidate.name) continue;
    const theirs = knownNames(other);
    const clash =
      (mine && theirs && mine.find((n) => theirs.includes(n))) ??
      // An unprefixed tool named `{server}__…` would shadow a prefixed server's namespace.
      (mine && other.prefix ? mine.find((n) => !candidate.prefix && splitName(n)?.server === other.name) : undefined) ??
      (theirs && candidate.prefix ? theirs.find((n) => !other.prefix && splitName(n)?.server === candidate.name) : undefined);
    if (clash) {
      throw new Conflict('conflict', `Tool name ${clash} of tool server ${candidate.name} clashes with tool server ${other.name}; keep the prefix on one of them`);
    }
  }
}
