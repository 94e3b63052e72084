/**
 * A gateway for the console tests: ADMIN_EMAILS names root@example.com; team `acme` (invite-only, demo pack) is
 * administered by alice with carol as a plain member; team `globex` (demo pack) by bob. Plus a fetch-driven "browser"
 * that signs in to the console through the real login and consent pages, and MCP users with real SDK sessions.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, tokenFor, type TestGateway } from '../helpers/gateway.js';
import { connectClient } from '../helpers/mcp-client.js';
import { FetchBrowser, hiddenField, type Page } from '../helpers/oauth-client.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { LOCAL_ISSUER } from '../../src/teams/users.js';

export const PLATFORM_EMAIL = 'root@example.com';

export interface ConsoleFixture {
  tdb: TestDatabase;
  gw: TestGateway;
  acme: { id: string };
  globex: { id: string };
  close(): Promise<void>;
}

export async function startConsoleFixture(): Promise<ConsoleFixture> {
  const tdb = await createTestDatabase();
  const gw = await startTestGateway(tdb.db, { env: { ADMIN_EMAILS: PLATFORM_EMAIL } });
  const prisma = tdb.db.prisma;
  const acme = await createTeam(prisma, { slug: 'acme', name: 'Acme', joinPolicy: 'invite', packs: ['demo'] });
  const globex = await createTeam(prisma, { slug: 'globex', name: 'Globex', packs: ['demo'] });
  const user = (email: string) => gw.app.users.upsert(LOCAL_ISSUER, email, email);
  const [alice, bob, carol] = await Promise.all([user('alice@example.com'), user('bob@example.com'), user('carol@example.com')]);
  await prisma.membership.createMany({
    data: [
      { teamId: acme.id, userId: alice.id, role: 'admin' },
      { teamId: acme.id, userId: carol.id, role: 'member' },
      { teamId: globex.id, userId: bob.id, role: 'admin' },
    ],
  });
  return {
    tdb,
    gw,
    acme,
    globex,
    async close() {
      await gw.close();
      await tdb.drop();
    },
  };
}

/** A real MCP session: an SDK client of `team` for a member with this e-mail, in a chat. */
export interface McpUser {
  email: string;
  client: Client;
  sessionId: string;
  token: string;
}

export async function mcpUser(f: ConsoleFixture, team: 'acme' | 'globex', email: string, chat: string): Promise<McpUser> {
  const { token, userId } = await tokenFor(f.gw, { email, team, clientId: `${email}-client` });
  await f.tdb.db.prisma.membership.upsert({
    where: { teamId_userId: { teamId: (team === 'acme' ? f.acme : f.globex).id, userId } },
    create: { teamId: (team === 'acme' ? f.acme : f.globex).id, userId, role: 'member' },
    update: {},
  });
  const { client, transport } = await connectClient(`${f.gw.url}/t/${team}/mcp`, token, { headers: { 'x-chat-id': chat }, name: `${email.split('@')[0]}-agent` });
  return { email, client, sessionId: transport.sessionId!, token };
}

/**
 * Signs in to the console with fetch: /console → /authorize → dev login form → consent (Allow, when asked) →
 * /console/callback → the page the console lands on. Returns the browser (its cookie jar holds the session).
 */
export async function signInWithFetch(gw: TestGateway, email: string, path = '/console'): Promise<{ browser: FetchBrowser; page: Page }> {
  const browser = new FetchBrowser(() => false);
  let step = await browser.navigate(new URL(path, gw.url));
  for (let i = 0; i < 4; i++) {
    if ('redirect' in step) throw new Error('unexpected redirect');
    const csrf = hiddenField(step.body, 'csrf');
    if (step.url.pathname === '/login' && csrf) step = await browser.navigate(new URL('/login', gw.url), { csrf, email });
    else if (step.url.pathname === '/consent' && csrf) step = await browser.navigate(new URL('/consent', gw.url), { csrf, decision: 'allow' });
    else return { browser, page: step };
  }
  throw new Error('the console sign-in did not finish');
}
