/** `GET /openapi.json`: the OpenAPI 3.1 document generated from the routes' own zod schemas. */
import { z } from 'zod';
import { buildOpenApiDocument } from '../openapi.js';
import { defineRoute, type AdminRoute } from '../route.js';
import { noQuery } from '../request-schemas.js';

const documents = new WeakMap<readonly AdminRoute[], Map<string, unknown>>();

export const openApiRoute = defineRoute({
  key: 'GET /openapi.json',
  operationId: 'getOpenApiDocument',
  tag: 'Meta',
  summary: 'This API as OpenAPI 3.1',
  description: 'Public: the document describes the API, not any data.',
  query: noQuery,
  success: { status: 200, description: 'The OpenAPI document', schema: z.looseObject({ openapi: z.string() }).meta({ id: 'OpenApiDocument' }) },
  errors: [],
  async handle({ config, routes }) {
    const byUrl = documents.get(routes) ?? new Map<string, unknown>();
    documents.set(routes, byUrl);
    const url = config.publicUrl;
    if (!byUrl.has(url)) byUrl.set(url, buildOpenApiDocument(routes, url));
    return byUrl.get(url);
  },
});
