/**
 * The team page's forms, each a POST (CSRF-checked by the router) that calls the same service as the admin API
 * route it mirrors, then sends the browser back to the team page with a notice (POST → 303 → GET, so reloading
 * does not repeat it):
 * - members: add by e-mail or invite (`addMember`), set a role (`addMember` by user id), remove (`removeMember`,
 *   which ends their sessions in the team), withdraw an invitation (`cancelInvitation`);
 * - tool servers: add (`createToolServer`, validated by the API's `toolServerCreateBody`), enable or disable
 *   (`updateToolServer`), remove (`removeToolServer`). A static secret is only ever written;
 * - a tool server's access policy: the JSON of `policy` (validated by the API's `toolServerPatchBody`, so a bad rule
 *   is a 400 page naming its field), saved with `updateToolServer`; an empty box clears it.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { invitationPath, memberAddBody, memberRole, teamSlugParam, toolServerCreateBody, toolServerNameParam, toolServerPatchBody, userIdParam } from '../admin/request-schemas.js';
import type { ConsoleDeps } from './console-router.js';
import { mayCall } from '../admin/authorization.js';
import { formOf, parseInput } from './console-input.js';
import type { ConsoleRoutes } from './console-router.js';
import type { Viewer } from './layout.js';
import { Forbidden, Invalid } from '../errors.js';

/** The team slug of a `/teams/:team…` path, once the viewer may manage it (the `team` rule of the admin API). */
export function managedTeam(req: Request, viewer: Viewer): string {
  const slug = parseInput(teamSlugParam, req.params.team, 'query');
  if (!mayCall(viewer.principal, 'team', slug)) throw new Forbidden(`You are not an admin of team ${slug}`);
  return slug;
}

/** What the team page says after each form; the redirect names one of these, never free text. */
export const TEAM_NOTICES: Record<string, string> = {
  member_added: 'Member added.',
  member_updated: 'Role changed.',
  member_invited: 'Invitation recorded: it becomes a membership when that address signs in.',
  member_removed: 'Member removed; their sessions in this team have ended.',
  invitation_withdrawn: 'Invitation withdrawn.',
  tool_server_added: 'Tool server added. Live sessions of the team see the change.',
  tool_server_enabled: 'Tool server enabled.',
  tool_server_disabled: 'Tool server disabled.',
  tool_server_removed: 'Tool server removed.',
  tool_server_policy_saved: 'Policy saved. Live sessions of the team see the change.',
};

function backToTeam(res: Response, slug: string, notice: keyof typeof TEAM_NOTICES): void {
  res.redirect(303, `/console/teams/${slug}?done=${notice}`);
}

const addMemberForm = z.strictObject({ email: z.string(), role: z.string().optional() });
const roleForm = z.strictObject({ role: memberRole });
const empty = z.strictObject({});
const toolServerForm = z.strictObject({
  name: z.string().optional(),
  kind: z.enum(['builtin', 'remote'], { message: 'must be builtin or remote' }),
  pack: z.string().optional(),
  url: z.string().optional(),
  authMode: z.string().optional(),
  header: z.string().optional(),
  secret: z.string().optional(),
  prefix: z.literal('on').optional(),
});

const policyForm = z.strictObject({ policy: z.string().max(65_536, { message: 'must be at most 64 kB of JSON' }).optional() });

/** The policy box's text as JSON: empty means no rules. */
function policyOf(text: string | undefined): unknown {
  if (text === undefined || text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new Invalid('invalid_body', 'Invalid form: policy is not valid JSON', [{ field: 'policy', message: 'is not valid JSON' }]);
  }
}

/** The form's flat fields as the admin API's tool-server body: pack for built-ins, URL and auth for remote ones. */
function toolServerBody(f: z.output<typeof toolServerForm>): unknown {
  const prefix = f.prefix === 'on';
  if (f.kind === 'builtin') return { name: f.name, kind: f.kind, pack: f.pack, prefix };
  const mode = f.authMode ?? 'exchange';
  const auth = mode === 'static' ? { mode, ...(f.header ? { header: f.header } : {}), secret: f.secret } : { mode };
  return { name: f.name, kind: f.kind, url: f.url, auth, prefix };
}

export function teamFormRoutes(routes: ConsoleRoutes, deps: ConsoleDeps): void {
  routes.action('/teams/:team/members', async (req, res, viewer) => {
    const slug = managedTeam(req, viewer);
    const form = parseInput(addMemberForm, formOf(req), 'form');
    const body = parseInput(memberAddBody, { email: form.email, ...(form.role ? { role: form.role } : {}) }, 'form');
    const result = await deps.services.members.add(viewer.principal, slug, body);
    backToTeam(res, slug, result.kind === 'invitation' ? 'member_invited' : result.created ? 'member_added' : 'member_updated');
  });

  routes.action('/teams/:team/members/:userId/role', async (req, res, viewer) => {
    const slug = managedTeam(req, viewer);
    const userId = parseInput(userIdParam, req.params.userId, 'form');
    const { role } = parseInput(roleForm, formOf(req), 'form');
    await deps.services.members.add(viewer.principal, slug, { userId, role });
    backToTeam(res, slug, 'member_updated');
  });

  routes.action('/teams/:team/members/:userId/remove', async (req, res, viewer) => {
    const slug = managedTeam(req, viewer);
    const userId = parseInput(userIdParam, req.params.userId, 'form');
    parseInput(empty, formOf(req), 'form');
    await deps.services.members.remove(viewer.principal, slug, userId);
    backToTeam(res, slug, 'member_removed');
  });

  routes.action('/teams/:team/invitations/:email/withdraw', async (req, res, viewer) => {
    const slug = managedTeam(req, viewer);
    const { email } = parseInput(invitationPath, { team: slug, email: req.params.email }, 'form');
    await deps.services.members.cancelInvitation(viewer.principal, slug, email);
    backToTeam(res, slug, 'invitation_withdrawn');
  });

  routes.action('/teams/:team/tool-servers', async (req, res, viewer) => {
    const slug = managedTeam(req, viewer);
    const form = parseInput(toolServerForm, formOf(req), 'form');
    const config = parseInput(toolServerCreateBody, toolServerBody(form), 'form');
    await deps.services.toolServers.create(viewer.principal, slug, config);
    backToTeam(res, slug, 'tool_server_added');
  });

  for (const [action, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    routes.action(`/teams/:team/tool-servers/:name/${action}`, async (req, res, viewer) => {
      const slug = managedTeam(req, viewer);
      const name = parseInput(toolServerNameParam, req.params.name, 'form');
      await deps.services.toolServers.update(viewer.principal, slug, name, { enabled });
      backToTeam(res, slug, enabled ? 'tool_server_enabled' : 'tool_server_disabled');
    });
  }

  routes.action('/teams/:team/tool-servers/:name/policy', async (req, res, viewer) => {
    const slug = managedTeam(req, viewer);
    const name = parseInput(toolServerNameParam, req.params.name, 'form');
    const form = parseInput(policyForm, formOf(req), 'form');
    const { policy } = parseInput(toolServerPatchBody, { policy: policyOf(form.policy) }, 'form');
    await deps.services.toolServers.update(viewer.principal, slug, name, { policy });
    backToTeam(res, slug, 'tool_server_policy_saved');
  });

  routes.action('/teams/:team/tool-servers/:name/remove', async (req, res, viewer) => {
    const slug = managedTeam(req, viewer);
    const name = parseInput(toolServerNameParam, req.params.name, 'form');
    await deps.services.toolServers.remove(viewer.principal, slug, name);
    backToTeam(res, slug, 'tool_server_removed');
  });
}
