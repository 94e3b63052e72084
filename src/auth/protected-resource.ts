/**
 * RFC 9728 protected-resource metadata for each team endpoint and for the `/mcp` alias, and the URLs that name
 * them. Paths follow RFC 9728 §3.1: the well-known segment goes before the resource's path.
 */
import { Router } from 'express';
import type { Config } from '../config/config.js';
import type { TeamDirectory, TeamRef } from '../teams/team-directory.js';
import { DEFAULT_TEAM } from '../teams/team-directory.js';

export const SCOPES_SUPPORTED = ['mcp', 'offline_access'];

export function teamResource(publicUrl: string, slug: string | undefined): string {
  return slug === undefined ? `${publicUrl}/mcp` : `${publicUrl}/t/${slug}/mcp`;
}

export function resourceMetadataUrl(publicUrl: string, slug: string | undefined): string {
  return `${publicUrl}/.well-known/oauth-protected-resource${new URL(teamResource(publicUrl, slug)).pathname}`;
}

export function protectedResourceRouter(deps: { config: Config; teams: TeamDirectory }): Router {
  const { config, teams } = deps;
  const router = Router();
  // No `resource_documentation`: the gateway serves no page about itself (its root is a 404), and RFC 9728 makes
  // the member optional; a link that leads nowhere is worse than none.
  const document = (team: TeamRef, slug: string | undefined) => ({
    resource: teamResource(config.publicUrl, slug),
    authorization_servers: [config.authIssuer],
    scopes_supported: SCOPES_SUPPORTED,
    bearer_methods_supported: ['header'],
    resource_name: `${team.name} (Switchboard)`,
  });
  router.get('/.well-known/oauth-protected-resource/t/:team/mcp', async (req, res) => {
    const team = await teams.find(req.params.team);
    if (!team) {
      res.status(404).json({ error: { code: 'team_not_found', message: `No team ${req.params.team}` } });
      return;
    }
    res.set('Cache-Control', 'public, max-age=300').json(document(team, team.slug));
  });
  router.get('/.well-known/oauth-protected-resource/mcp', async (_req, res) => {
    const team = await teams.find(DEFAULT_TEAM);
    if (!team) {
      res.status(404).json({ error: { code: 'team_not_found', message: `No default team ${DEFAULT_TEAM}` } });
      return;
    }
    res.set('Cache-Control', 'public, max-age=300').json(document(team, undefined));
  });
  return router;
}
