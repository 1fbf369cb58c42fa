import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import sirv from 'sirv';
import { pathOf } from './http/respond.js';

/** Where the dashboard's build lands in this repository (`pnpm dashboard:build`). */
export const DEFAULT_DASHBOARD_DIR = join(import.meta.dirname, '..', '..', 'dashboard', 'dist');

/** The page's own routes (App.tsx): they answer index.html, and the page shows the view. */
const PAGE_ROUTES = /^\/(rollouts|devices|events|patches|admin)(\/[^/]+)?\/?$/;

/**
 * The operators' dashboard: static files built at build time, served by every pod at `/` (no
 * extra service). Only the page's own routes fall back to index.html, so a mistyped path (a probe
 * in a manifest) still gets 404, not a page. It talks to the pod over the same tRPC WebSocket as
 * the CLI, so the page may connect only to its own origin.
 */
export function dashboardHandler(dir: string): ((req: IncomingMessage, res: ServerResponse) => void) | null {
  if (!existsSync(join(dir, 'index.html'))) return null;
  const serve = sirv(dir, {
    etag: true,
    // Vite fingerprints everything under assets/: cache it for good; index.html is always re-checked.
    setHeaders: (res, path) => {
      res.setHeader(
        'cache-control',
        path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('referrer-policy', 'no-referrer');
      res.setHeader(
        'content-security-policy',
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
      );
    },
  });
  return (req, res) => {
    if (PAGE_ROUTES.test(pathOf(req))) req.url = '/';
    serve(req, res, () => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    });
  };
}
