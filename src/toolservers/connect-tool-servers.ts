/**
 * Builds a session's tool-server connections from the team's configured tool servers. Remote servers are added by
 * the upstream client (issue #4); until then a remote definition is skipped with a warning.
 */
import type { PrismaClient } from '../db/database.js';
import type { Logger } from '../observability/logger.js';
import { BUILTIN_PACKS } from './packs/index.js';
import { packConnection } from './packs/pack.js';
import type { SessionContext, ToolServerConnection, ToolServerDefinition } from './types.js';

export async function loadToolServers(prisma: PrismaClient, teamId: string): Promise<ToolServerDefinition[]> {
  const rows = await prisma.toolServer.findMany({
    where: { teamId, enabled: true },
    orderBy: { name: 'asc' },
    select: { name: true, kind: true, pack: true, url: true, prefix: true },
  });
  return rows.map((r) => ({ ...r, kind: r.kind === 'remote' ? 'remote' : 'builtin' }));
}

export function connectToolServers(defs: ToolServerDefinition[], session: SessionContext, logger: Logger): ToolServerConnection[] {
  const out: ToolServerConnection[] = [];
  for (const def of defs) {
    if (def.kind === 'builtin') {
      const pack = def.pack ? BUILTIN_PACKS.get(def.pack) : undefined;
      if (!pack) {
        logger.warn({ toolServer: def.name, pack: def.pack }, 'unknown built-in pack; tool server skipped');
        continue;
      }
      out.push(packConnection(pack, { name: def.name, prefix: def.prefix, session }));
    } else {
      logger.warn({ toolServer: def.name }, 'remote tool servers are not supported yet; tool server skipped');
    }
  }
  return out;
}
