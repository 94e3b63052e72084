/**
 * What the services (`src/services.ts`) are built on: the database, the sealing box, the team and user directories,
 * the session runtime (ending sessions on every replica, telling live sessions about tool-server changes), the audit
 * log. Only the services see it; the edges (admin routes, console, CLI) get the services object instead.
 */
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../observability/logger.js';
import type { AuditLog } from '../observability/audit.js';
import type { SecretBox } from '../security/secret-box.js';
import type { TeamDirectory } from '../teams/team-directory.js';
import type { UserDirectory } from '../teams/users.js';
import type { SessionRuntime } from '../mcp/session-runtime.js';
import type { RemovedConnection } from '../toolservers/oauth/upstream-tokens.js';

export interface ServiceDeps {
  config: Config;
  db: Database;
  box: SecretBox;
  teams: TeamDirectory;
  users: UserDirectory;
  sessions: SessionRuntime;
  audit: AuditLog;
  logger: Logger;
  clock: () => number;
  /** The 32-byte key that seals secrets at rest; the built-in issuer's signing keys are sealed with it. */
  encryptionKey: Buffer;
  /** Revokes a removed connection at its tool server's authorization server (the app's; none in the CLI). */
  revokeUpstream?: (removed: RemovedConnection) => Promise<unknown>;
  /** The same for many connections of one tool server, its registration read now, before the tool server changes. */
  upstreamRevoker?: (toolServerId: string, teamId: string) => Promise<(removed: RemovedConnection) => Promise<unknown>>;
}
