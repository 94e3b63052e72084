/**
 * How the gateway stores and compares e-mail addresses: trimmed and lower case, compared with `=`. Never `ILIKE`
 * (Prisma's `mode: 'insensitive'`): there `_` and `%` are wildcards, so `___@example.com` would match other people.
 */

/** The stored form of an e-mail address. */
export function normaliseEmail(raw: string): string {
  return raw.trim().toLowerCase();
}
