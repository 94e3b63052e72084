/**
 * What a session says of itself to its client (server info, capabilities) and how a tool call's outcome is named,
 * shared by both eras' front ends.
 */
import type { ServerCapabilities } from '@modelcontextprotocol/server';
import type { Aggregator } from '../toolservers/aggregator.js';
import { PolicyDeniedError } from '../toolservers/access-policy.js';

export const SERVER_INFO = { name: 'switchboard', title: 'Switchboard MCP gateway', version: '0.1.0' };

/** `denied`: refused by the tool server's access policy (`PolicyDeniedError`), before anything reached it. */
export type ToolCallOutcome = 'ok' | 'tool_error' | 'upstream_error' | 'error' | 'denied';

/** The outcome of a tool call that threw. */
export function thrownOutcome(err: unknown): ToolCallOutcome {
  return err instanceof PolicyDeniedError ? 'denied' : 'error';
}

/** What a session offers: teams with remote tool servers may have prompts, resources and completions; packs have tools only. */
export function sessionCapabilities(aggregator: Pick<Aggregator, 'hasRemote'>): ServerCapabilities {
  return aggregator.hasRemote
    ? { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { subscribe: true, listChanged: true }, completions: {}, logging: {} }
    : { tools: { listChanged: true }, logging: {} };
}
