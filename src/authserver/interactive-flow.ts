/**
 * What the login and consent steps share: their dependencies, reading the login transaction (or showing why it is
 * gone), and re-loading the client and the team (or admin API) it names — they may have changed since `/authorize`.
 */
import { formTargetFor } from './redirect-uris.js';
import type { Request, Response } from 'express';
import type { Config } from '../config/config.js';
import type { PrismaClient } from '../db/database.js';
import type { Logger } from '../observability/logger.js';
import type { TeamDirectory } from '../teams/team-directory.js';
import type { UserDirectory } from '../teams/users.js';
import type { UpstreamOidc } from './upstream-oidc.js';
import type { AuthorizationCodes } from './authorization-codes.js';
import type { ClientRecord } from './client-metadata.js';
import { findUsableClient, type ClientRegistry } from './client-registry.js';
import type { ConsentStore } from './consent-store.js';
import type { LoginTransaction, TransactionCookie } from './login-transaction.js';
import { InvalidTarget } from './oauth-errors.js';
import { sendErrorPage } from './pages.js';
import { resolveResource, type ResolvedResource } from './resource-indicator.js';

export interface InteractiveDeps {
  config: Config;
  prisma: PrismaClient;
  logger: Logger;
  clients: ClientRegistry;
  teams: TeamDirectory;
  users: UserDirectory;
  consents: ConsentStore;
  codes: AuthorizationCodes;
  transactions: TransactionCookie;
  upstream: UpstreamOidc | undefined;
}

export interface Flow {
  tx: LoginTransaction;
  client: ClientRecord;
  /** The team endpoint the authorization is for, or the admin API. */
  target: ResolvedResource;
  /** The team's display name; undefined for the admin API. */
  teamName: string | undefined;
  /** The client's display name: its registered name, else its id. */
  clientName: string;
  /** The redirect URI's origin, which forms on our pages may end up at (CSP form-action follows redirects). */
  formTargets: string[];
}

/**
 * The current login transaction with its client and team, or undefined after answering with an error page
 * (no cookie: expired, blocked, or a request forged elsewhere).
 */
export async function loadFlow(req: Request, res: Response, deps: InteractiveDeps): Promise<Flow | undefined> {
  const tx = await deps.transactions.read(req);
  if (!tx) {
    sendErrorPage(
      res,
      400,
      'Sign-in expired',
      'This sign-in has expired or your browser did not keep its cookie. Go back to the application and connect again.',
    );
    return undefined;
  }
  // A database fault propagates (a 503 page that says to retry), rather than reading as "no such application".
  const client = await findUsableClient(deps.clients, tx.request.clientId);
  const target = await resolveResource(tx.request.resource, deps.config.publicUrl, deps.teams).catch((err: unknown) => {
    if (err instanceof InvalidTarget) return undefined;
    throw err;
  });
  if (!client || !target) {
    deps.transactions.clear(res);
    sendErrorPage(res, 400, 'Sign-in no longer valid', 'The application or the team of this sign-in no longer exists.');
    return undefined;
  }
  return {
    tx,
    client,
    target,
    teamName: target.kind === 'team' ? target.team.name : undefined,
    clientName: client.name ?? client.id,
    formTargets: [formTargetFor(tx.request.redirectUri)],
  };
}
