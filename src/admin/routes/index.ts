/** Every admin route, in the order the OpenAPI document lists them. */
import type { AdminRoute } from '../route.js';
import { auditRoutes } from './audit.js';
import { connectionRoutes } from './connections.js';
import { memberRoutes } from './members.js';
import { openApiRoute } from './openapi-route.js';
import { sessionRoutes } from './sessions.js';
import { teamRoutes } from './teams.js';
import { toolServerRoutes } from './tool-servers.js';
import { userRoutes } from './users.js';

export const ADMIN_ROUTES: readonly AdminRoute[] = [...teamRoutes, ...memberRoutes, ...toolServerRoutes, ...sessionRoutes, ...userRoutes, ...connectionRoutes, ...auditRoutes, openApiRoute];
