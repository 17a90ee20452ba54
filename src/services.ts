import type { Platform } from './platform.js';
import { createAuditService } from './modules/audit/service.js';
import { createAuthService } from './modules/auth/service.js';
import { createCustomerService } from './modules/customers/service.js';
import { createCatalogService } from './modules/catalog/service.js';
import { createVaultService } from './modules/vault/service.js';
import { createAgentService } from './modules/agents/service.js';

/** Every module's service, wired once; channels (HTTP, bots, mini-program) use only these. */
export function createServices(p: Platform) {
  const audit = createAuditService(p);
  const auth = createAuthService(p, audit);
  const customers = createCustomerService(p);
  const catalog = createCatalogService(p);
  const vault = createVaultService(p, { audit, catalog });
  const agents = createAgentService(p);
  return { audit, auth, customers, catalog, vault, agents };
}

export type Services = ReturnType<typeof createServices>;
