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
import type { RemovedConnection, RevokeOutcome } from '../toolservers/oauth/upstream-tokens.js';

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
  /**
   * Revokes removed connections of one tool server at its authorization server, with its registration read when this
   * is called (before the tool server changes or goes). The app's; the CLI has none (it only deletes).
   */
  upstreamRevoker?: (toolServerId: string, teamId: string) => Promise<(removed: RemovedConnection) => Promise<RevokeOutcome>>;
}
