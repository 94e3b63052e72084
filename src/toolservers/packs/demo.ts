/** The `demo` pack: enough to see a gateway session end to end (`demo__echo`, `demo__whoami`). */
import { z } from 'zod';
import { packTool, type Pack } from './pack.js';

export const demoPack: Pack = {
  name: 'demo',
  tools: [
    packTool({
      name: 'echo',
      title: 'Echo',
      description: 'Returns the text it is given.',
      input: z.object({ text: z.string().max(100_000).describe('Text to echo back') }),
      annotations: { readOnlyHint: true, openWorldHint: false },
      run: ({ text }) => ({ content: [{ type: 'text', text }] }),
    }),
    packTool({
      name: 'whoami',
      title: 'Who am I',
      description: 'Tells who the gateway thinks you are: user id, e-mail, team, chat and session.',
      input: z.object({}),
      annotations: { readOnlyHint: true, openWorldHint: false },
      run: (_args, ctx) => {
        const who = {
          userId: ctx.user.id,
          email: ctx.user.email,
          team: ctx.team.slug,
          chat: ctx.chat,
          session: ctx.sessionId,
          clientId: ctx.clientId,
        };
        return { content: [{ type: 'text', text: JSON.stringify(who) }], structuredContent: who };
      },
    }),
  ],
};
