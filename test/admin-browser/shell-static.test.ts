import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, type TestApp } from '../helpers/boot.js';
import { adminStatic } from '../../src/http/admin-static.js';
import { ensureAdminBuilt } from './harness.js';

describe('the admin panel is served at /admin/ by the API server', () => {
  let t: TestApp;
  beforeAll(async () => {
    ensureAdminBuilt();
    t = await bootTestApp();
  });
  afterAll(() => t.close());

  it('index.html is never cached; hashed assets are cached for a year', async () => {
    const index = await t.inject({ method: 'GET', url: '/admin/' });
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.headers['content-security-policy']).toContain("script-src 'self'");
    const asset = /\/admin\/assets\/[\w.-]+\.js/.exec(index.body)?.[0];
    expect(asset).toBeDefined();
    const js = await t.inject({ method: 'GET', url: asset! });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('/admin redirects to /admin/; unknown assets are 404; traversal is refused', async () => {
    const r = await t.inject({ method: 'GET', url: '/admin' });
    expect([r.statusCode, r.headers.location]).toEqual([302, '/admin/']);
    expect((await t.inject({ method: 'GET', url: '/admin/assets/nope-123.js' })).statusCode).toBe(404);
    const trav = await t.inject({ method: 'GET', url: '/admin/assets/..%2F..%2Fpackage.json' });
    expect(trav.statusCode).toBe(404);
    expect(trav.body).not.toContain('"dependencies"');
  });

  it('browser navigations to unknown /admin/ paths get the SPA; API clients keep JSON errors', async () => {
    const nav = await t.inject({ method: 'GET', url: '/admin/no-such-page', headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(nav.statusCode).toBe(200);
    expect(nav.body).toContain('<div id="app">');
    const api404 = await t.inject({ method: 'GET', url: '/admin/no-such-page', headers: { accept: 'application/json' } });
    expect(api404.statusCode).toBe(404);
    expect(api404.json().error.code).toBe('NOT_FOUND');
    // A real API route is never shadowed by the panel, even for a browser.
    const me = await t.inject({ method: 'GET', url: '/admin/auth/me', headers: { accept: 'text/html' } });
    expect(me.statusCode).toBe(401);
    expect(me.json().error.code).toBe('UNAUTHENTICATED');
  });

  it('adds no route under /admin (the API keeps every /admin/ path and its permission guard)', () => {
    const panelRoutes = t.app.routeGuards.filter((g) => g.url === '/admin' || g.url === '/admin/' || g.url.startsWith('/admin/assets') || (g.url.startsWith('/admin') && g.url.includes('*')));
    expect(panelRoutes).toEqual([]);
  });
});

describe('before the panel is built', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kq-admin-dist-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('answers a helpful 503 page, and serves the files once they appear', async () => {
    const app = Fastify();
    await app.register(adminStatic, { root: dir });
    const before = await app.inject({ method: 'GET', url: '/admin/' });
    expect(before.statusCode).toBe(503);
    expect(before.body).toContain('npm run build:admin');
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><div id="app"></div>');
    const after = await app.inject({ method: 'GET', url: '/admin/' });
    expect(after.statusCode).toBe(200);
    expect(readdirSync(dir)).toContain('index.html');
    await app.close();
  });
});
