import type { Permission } from '../modules/auth/permissions.js';
import type { ApiKeyPrincipal, StaffPrincipal } from '../modules/auth/service.js';
import type { CustomerPrincipal } from '../modules/miniprogram/service.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Admin route: the one permission it needs. Every /admin route must name one or be marked public. */
    permission?: Permission;
    /** A route open to anybody (login, health, docs). */
    public?: boolean;
    /** Open API route: the caller signs the request with an API key. */
    signed?: boolean;
    /** Signed route that also accepts a store staff key (owner_type 'store_staff'); every other signed route refuses one. */
    storeStaff?: boolean;
    /** Mini-program route (/mp/v1): the caller is a customer with a session bearer token (POST /mp/v1/login). */
    customer?: boolean;
  }
  interface FastifyInstance {
    /** Every route with the permission or signature it requires (for the role matrix test and the docs). */
    routeGuards: import('./auth.js').RouteGuard[];
  }
  interface FastifyRequest {
    staff?: StaffPrincipal;
    apiKey?: ApiKeyPrincipal;
    /** The customer of a `customer: true` route. */
    customer?: CustomerPrincipal;
    /** The body exactly as received, for signature checks. */
    rawBody?: string;
  }
}

export {};
