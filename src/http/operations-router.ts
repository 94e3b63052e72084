/** `/health` (process up), `/ready` (database reachable, migrations applied) and `/metrics` (Prometheus). */
import { Router } from 'express';
import type { Database } from '../db/database.js';
import { pendingMigrations } from '../db/migrator.js';
import type { Metrics } from '../observability/metrics.js';

export function operationsRouter(deps: { db: Database; metrics: Metrics; migrationsDir?: string }): Router {
  const router = Router();
  let migrationsChecked = false;
  router.get('/health', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  router.get('/ready', async (_req, res) => {
    res.set('Cache-Control', 'no-store');
    try {
      await deps.db.sql.query('SELECT 1');
      if (!migrationsChecked) {
        const pending = await pendingMigrations(deps.db.sql, deps.migrationsDir);
        if (pending.length) {
          res.status(503).json({ status: 'unavailable', reason: `migrations pending: ${pending.join(', ')}` });
          return;
        }
        migrationsChecked = true; // migrations never un-apply; no need to re-read them on every probe
      }
      res.json({ status: 'ready', database: deps.db.kind });
    } catch {
      res.status(503).json({ status: 'unavailable', reason: 'database unreachable' });
    }
  });
  router.get('/metrics', async (_req, res) => {
    res.set('Content-Type', deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return router;
}
