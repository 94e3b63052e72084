/**
 * HTTP metrics (`observability/http-metrics.ts`): each finished response counted under its method, route pattern and
 * status, and timed under its method and route — label sets shared between responses must not mix their counts.
 */
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.js';
import { httpMetrics } from '../../src/observability/http-metrics.js';

describe('http metrics', () => {
  it('counts by method, route and status, and times by method and route', async () => {
    const metrics = createMetrics();
    const app = express();
    app.use(httpMetrics(metrics));
    app.get('/items/:id', (req, res) => {
      if (req.params.id === 'slow') return void setTimeout(() => res.status(200).end('ok'), 30);
      res.status(req.params.id === 'missing' ? 404 : 200).end('ok');
    });
    for (const id of ['a', 'b', 'missing', 'slow']) await request(app).get(`/items/${id}`);
    await request(app).post('/items/a'); // no route: 'unmatched'

    const count = (await metrics.httpRequests.get()).values.map((v) => [v.labels.method, v.labels.route, v.labels.status, v.value]);
    expect(count).toEqual(
      expect.arrayContaining([
        ['GET', '/items/:id', '200', 3],
        ['GET', '/items/:id', '404', 1],
        ['POST', 'unmatched', '404', 1],
      ]),
    );
    expect(count).toHaveLength(3);
    const time = (await metrics.httpDuration.get()).values;
    const getCount = time.find((v) => v.metricName === 'switchboard_http_request_duration_seconds_count' && v.labels.method === 'GET');
    const getSum = time.find((v) => v.metricName === 'switchboard_http_request_duration_seconds_sum' && v.labels.method === 'GET');
    expect(getCount?.value).toBe(4);
    expect(getSum?.value).toBeGreaterThanOrEqual(0.03); // the slow one alone took 30 ms
    expect(getSum?.value).toBeLessThan(5);
  });
});
