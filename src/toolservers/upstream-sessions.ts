/**
 * Upstream session ids stored with the gateway session (`sessions.upstream_sessions`), so a session rebuilt on
 * another replica or after a restart keeps talking to the same upstream sessions instead of starting new ones.
 * Shape: `{ [toolServerName]: { id, protocolVersion, capabilities, serverInfo, instructions } }` — what the
 * upstream said in its `initialize` result is kept too, because a resumed client skips `initialize`.
 */
import { z } from 'zod';
import type { PrismaClient } from '../db/database.js';
import type { Logger } from '../observability/logger.js';

const record = z.object({
  id: z.string().min(1),
  protocolVersion: z.string().optional(),
  capabilities: z.record(z.string(), z.unknown()).optional(),
  serverInfo: z.object({ name: z.string(), version: z.string() }).loose().optional(),
  instructions: z.string().optional(),
});

export type UpstreamSessionRecord = z.infer<typeof record>;

export interface UpstreamSessionStore {
  /** `reread`: read the row again (another replica may have stored a session since it was read here). */
  load(server: string, opts?: { reread?: boolean }): Promise<UpstreamSessionRecord | undefined>;
  save(server: string, rec: UpstreamSessionRecord): Promise<void>;
  forget(server: string): Promise<void>;
}

/** `fresh`: the gateway session was just created, so it has no upstream sessions yet (no need to read the row). */
export function upstreamSessionStore(prisma: PrismaClient, sessionId: string, logger: Logger, opts: { fresh?: boolean } = {}): UpstreamSessionStore {
  let all: Promise<Record<string, unknown>> | undefined = opts.fresh ? Promise.resolve({}) : undefined;
  const read = () =>
    (all ??= prisma.session
      .findUnique({ where: { id: sessionId }, select: { upstreamSessions: true } })
      .then((r) => (r?.upstreamSessions && typeof r.upstreamSessions === 'object' && !Array.isArray(r.upstreamSessions) ? (r.upstreamSessions as Record<string, unknown>) : {})));

  return {
    async load(server, o) {
      if (o?.reread) all = undefined;
      const raw = (await read())[server];
      // A bare string (an id without the initialize result) is accepted as well.
      const parsed = record.safeParse(typeof raw === 'string' ? { id: raw } : raw);
      return parsed.success ? parsed.data : undefined;
    },
    async save(server, rec) {
      // One atomic jsonb merge per tool server: concurrent first connections to several upstreams do not race.
      await prisma.$executeRaw`UPDATE sessions SET upstream_sessions = upstream_sessions || jsonb_build_object(${server}::text, ${JSON.stringify(rec)}::jsonb) WHERE id = ${sessionId}`.catch(
        (err: unknown) => logger.warn({ err, sessionId, toolServer: server }, 'could not store the upstream session id'),
      );
      all = undefined;
    },
    async forget(server) {
      await prisma.$executeRaw`UPDATE sessions SET upstream_sessions = upstream_sessions - ${server}::text WHERE id = ${sessionId}`.catch((err: unknown) =>
        logger.warn({ err, sessionId, toolServer: server }, 'could not drop the upstream session id'),
      );
      all = undefined;
    },
  };
}
