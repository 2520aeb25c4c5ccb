import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DashboardFeed } from './dashboard-feed.js';

/** The static front end: `src/server/dashboard/` (copied next to this module in dist by `npm run build`). */
const STATIC: Record<string, { file: string; type: string }> = {
  '/dashboard': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

const HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

const cache = new Map<string, Buffer>();
function asset(file: string): Buffer {
  let body = cache.get(file);
  if (!body) {
    body = readFileSync(new URL(`./dashboard/${file}`, import.meta.url));
    cache.set(file, body);
  }
  return body;
}

/**
 * Serves the dashboard on the metrics listener: the page and its script and style, `GET
 * /dashboard/state` (the snapshot as JSON) and `GET /dashboard/events` (Server-Sent Events).
 * Returns false for any other request.
 */
export function dashboardHandler(
  feed: DashboardFeed,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    if (path !== '/dashboard' && !path.startsWith('/dashboard/')) return false;
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET', 'content-type': 'text/plain' }).end('method not allowed\n');
      return true;
    }
    if (path === '/dashboard/events') {
      feed.subscribe(res);
      return true;
    }
    if (path === '/dashboard/state') {
      res
        .writeHead(200, { ...HEADERS, 'content-type': 'application/json' })
        .end(JSON.stringify(feed.snapshot()));
      return true;
    }
    const s = STATIC[path];
    if (!s) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return true;
    }
    try {
      res.writeHead(200, { ...HEADERS, 'content-type': s.type }).end(asset(s.file));
    } catch {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('dashboard assets missing\n');
    }
    return true;
  };
}
