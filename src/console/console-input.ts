/**
 * Reading what a console page or form sent: empty fields count as not given (an empty filter box means "any"),
 * and anything that fails its schema becomes a 400 that names each bad field in the admin API's words.
 */
import type { Request } from 'express';
import type { z } from 'zod';
import { issueDetails } from '../admin/admin-router.js';
import { DomainError } from '../errors.js';

/** The fields of a query or urlencoded form, without the empty ones (and without the CSRF token). */
export function fieldsOf(source: unknown): Record<string, unknown> {
  if (typeof source !== 'object' || source === null) return {};
  return Object.fromEntries(Object.entries(source).filter(([k, v]) => k !== 'csrf' && v !== ''));
}

export function formOf(req: Request): Record<string, unknown> {
  return fieldsOf(req.body);
}

/** `input` parsed by `schema`, or a 400 `invalid_query`/`invalid_body` saying which fields are wrong and why. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: 'query' | 'form'): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const details = issueDetails(parsed.error, input);
  const text = details.map((d) => `${d.field || '(form)'} ${d.message}`).join('; ');
  throw new DomainError(what === 'query' ? 'invalid_query' : 'invalid_body', `Invalid ${what === 'query' ? 'filter' : 'form'}: ${text}`, details);
}
