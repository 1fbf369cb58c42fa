import { defineConfig } from 'vite';

/**
 * The dashboard is static files served by every pod at `/` (apps/server serves `dist/`).
 * `pnpm dev` proxies tRPC to a pod on FLEET_URL (default http://127.0.0.1:8081) so the page keeps
 * talking to its own origin, as it does when a pod serves it.
 */
const target = process.env.FLEET_URL ?? 'http://127.0.0.1:8081';

export default defineConfig({
  // Vite's own transform handles TSX; no React plugin needed (no fast refresh, no Babel).
  oxc: { jsx: { runtime: 'automatic' } },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, target: 'es2022' },
  server: { proxy: { '/trpc': { target, ws: true, changeOrigin: true } } },
  preview: { proxy: { '/trpc': { target, ws: true, changeOrigin: true } } },
});
