import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import fastifyStatic from '@fastify/static';

/** admin/dist next to package.json, from src/ (tsx) or from dist/src/ (compiled). */
export const adminDistDir = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    // admin/index.html in a checkout; only admin/dist in an image that copied the built panel.
    if (existsSync(join(dir, 'admin', 'index.html')) || existsSync(join(dir, 'admin', 'dist', 'index.html'))) return join(dir, 'admin', 'dist');
    dir = resolve(dir, '..');
  }
  return resolve(process.cwd(), 'admin', 'dist');
})();

const ASSET = /^\/admin\/assets\/[\w.-]+$/;
const INDEX = new Set(['/admin/', '/admin/index.html']);

const notBuiltPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>kaquan admin: not built</title></head>
<body style="font-family:sans-serif;max-width:640px;margin:60px auto;line-height:1.5">
<h1>The admin panel is not built yet</h1>
<p>The server is running, but <code>admin/dist</code> is missing. Build the panel once and reload:</p>
<pre style="background:#f3f4f6;padding:12px">npm run build:admin</pre>
<p><code>npm start</code> builds it automatically when it is missing or older than its sources. The API itself is up: see <a href="/docs">/docs</a>.</p>
</body></html>`;

/**
 * Serves the admin SPA (admin/dist) at /admin/. Every real route under /admin/
 * belongs to the API and must declare a permission, so the panel is served
 * from an onRequest hook, not routes: `/admin/` and `/admin/index.html`
 * (never cached, so a deploy shows at once), `/admin/assets/*` (content-hashed
 * names: cached for a year), and index.html for browser navigations to
 * unknown /admin/ paths (SPA fallback). API requests are untouched.
 */
export const adminStatic = fp(
  async function adminStatic(app: FastifyInstance, opts: { root?: string }) {
    const root = opts.root ?? adminDistDir;
    await app.register(fastifyStatic, { root, serve: false, decorateReply: true, index: false, etag: true, lastModified: true });

    const sendIndex = (reply: FastifyReply) => {
      if (!existsSync(join(root, 'index.html'))) return reply.code(503).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(notBuiltPage);
      return reply.header('cache-control', 'no-cache').sendFile('index.html', root, { cacheControl: false });
    };

    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.method !== 'GET' && request.method !== 'HEAD') return;
      const path = request.url.split('?')[0]!;
      if (!path.startsWith('/admin')) return;
      if (path === '/admin') return reply.redirect('/admin/', 302);
      if (INDEX.has(path)) return sendIndex(reply);
      if (ASSET.test(path)) return reply.sendFile(path.slice('/admin/'.length), root, { maxAge: 365 * 24 * 3600 * 1000, immutable: true });
      // A browser navigating to a path no API route answers gets the panel; clients asking for JSON keep the 404.
      if (request.is404 && (request.headers.accept ?? '').includes('text/html')) return sendIndex(reply);
    });
  },
  { name: 'admin-static' },
);
