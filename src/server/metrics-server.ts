import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ServiceMetrics } from './service-metrics.js';

/**
 * The separate Prometheus listener: `GET /metrics` in the text exposition format, and with
 * `dashboard` the live dashboard under `/dashboard` (docs/dashboard.md); nothing else.
 * Kept off the API listener so scraping needs no client certificate and the API port exposes
 * no operational detail. Bind it to a management address (plain HTTP, no authentication).
 */
export async function listenMetrics(
  metrics: ServiceMetrics,
  host: string,
  port: number,
  dashboard?: (req: IncomingMessage, res: ServerResponse) => boolean,
): Promise<{ server: Server; address: string }> {
  const server = createServer((req, res) => {
    if (dashboard?.(req, res)) return;
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.render().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const a = server.address();
  const address =
    typeof a === 'object' && a
      ? `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/metrics`
      : String(a);
  return { server, address };
}
