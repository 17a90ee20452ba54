import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../lib/errors.js';
import type { AuthService } from '../modules/auth/service.js';
import type { Permission } from '../modules/auth/permissions.js';
import type { CustomerPrincipal } from '../modules/miniprogram/service.js';
import './types.js';

export const SESSION_COOKIE = 'kq_session';

/**
 * Fails closed: a route under /admin that names no permission (and is not
 * marked public) refuses to register, so a forgotten check is a start-up
 * error, not a hole. Every admin request is authenticated by session cookie
 * or bearer token, then checked against its route's permission.
 */
export interface RouteGuard {
  method: string;
  url: string;
  permission?: Permission;
  signed?: boolean;
}

/** Who a mini-program session token belongs to (the miniprogram module). */
export interface CustomerAuthenticator {
  authenticate(token: string): Promise<CustomerPrincipal | null>;
}

export function installAuth(app: FastifyInstance, auth: AuthService, customers?: CustomerAuthenticator): RouteGuard[] {
  const guards: RouteGuard[] = [];
  app.addHook('onRoute', (route) => {
    const cfg = (route.config ?? {}) as { permission?: Permission; public?: boolean; signed?: boolean; customer?: boolean };
    for (const method of [route.method].flat()) if (method !== 'HEAD') guards.push({ method, url: route.url, permission: cfg.permission, signed: cfg.signed });
    if (route.url.startsWith('/admin/') && !cfg.permission && !cfg.public) {
      throw new Error(`admin route ${route.method} ${route.url} declares no permission`);
    }
    if (route.url.startsWith('/open/') && !cfg.signed && !cfg.public) {
      throw new Error(`open API route ${route.method} ${route.url} is neither signed nor public`);
    }
    if (route.url.startsWith('/mp/') && !cfg.customer && !cfg.public) {
      throw new Error(`mini-program route ${route.method} ${route.url} is neither for customers nor public`);
    }
  });

  // preValidation: a caller without the right is refused before anything about the request's body is said.
  app.addHook('preValidation', async (request: FastifyRequest, _reply: FastifyReply) => {
    const cfg = request.routeOptions.config;
    if (cfg.permission) {
      const token = sessionToken(request);
      const staff = token ? await auth.authenticate(token) : null;
      if (!staff) throw new AppError('UNAUTHENTICATED', 'log in first (POST /admin/auth/login)');
      request.staff = staff;
      if (!auth.can(staff, cfg.permission)) throw new AppError('FORBIDDEN', `role ${staff.role} may not ${cfg.permission}`, { permission: cfg.permission });
    } else if (cfg.signed) {
      const h = request.headers;
      const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
      request.apiKey = await auth.verifySignedRequest(
        { keyId: one(h['x-kq-key']), timestamp: one(h['x-kq-timestamp']), nonce: one(h['x-kq-nonce']), signature: one(h['x-kq-signature']) },
        request.method,
        request.url,
        request.rawBody ?? '',
      );
      // A store staff key (offline redemption) works only on the routes that opt in: it must not buy or reveal as a partner.
      if (request.apiKey.ownerType === 'store_staff' && !cfg.storeStaff) throw new AppError('FORBIDDEN', 'a store staff key may only be used for redemptions');
    } else if (cfg.customer) {
      const header = request.headers.authorization;
      const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : '';
      const customer = token && customers ? await customers.authenticate(token) : null;
      if (!customer) throw new AppError('UNAUTHENTICATED', 'log in first (POST /mp/v1/login)');
      request.customer = customer;
    }
  });
  return guards;
}

export function sessionToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim() || null;
  const cookie = request.cookies?.[SESSION_COOKIE];
  if (!cookie) return null;
  const unsigned = request.unsignCookie(cookie);
  return unsigned.valid ? unsigned.value : null;
}

export function requestMeta(request: FastifyRequest) {
  return { ip: request.ip, userAgent: request.headers['user-agent'] };
}

/** The staff principal of an admin route (the guard guarantees it). */
export function staffOf(request: FastifyRequest) {
  if (!request.staff) throw new AppError('UNAUTHENTICATED', 'log in first');
  return { id: request.staff.userId, ip: request.ip, principal: request.staff };
}
