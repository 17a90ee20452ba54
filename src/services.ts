import type { Platform } from './platform.js';
import { createAuditService } from './modules/audit/service.js';
import { createAuthService } from './modules/auth/service.js';
import { createCustomerService } from './modules/customers/service.js';
import { createCatalogService } from './modules/catalog/service.js';
import { createVaultService } from './modules/vault/service.js';
import { createAgentService } from './modules/agents/service.js';
import { createAlertService } from './modules/alerts/service.js';
import { createInventoryService } from './modules/inventory/service.js';
import { createSupplierService } from './modules/suppliers/service.js';
import { createLedgerService } from './modules/ledger/service.js';
import { createOrderService } from './modules/orders/service.js';

/** Every module's service, wired once; channels (HTTP, bots, mini-program) use only these. */
export function createServices(p: Platform) {
  const audit = createAuditService(p);
  const alerts = createAlertService(p);
  const auth = createAuthService(p, audit);
  const customers = createCustomerService(p);
  const catalog = createCatalogService(p, { audit });
  const vault = createVaultService(p, { audit, catalog });
  const inventory = createInventoryService(p, { audit, alerts, catalog, vault });
  const agents = createAgentService(p);
  const ledger = createLedgerService(p);
  const orders = createOrderService(p, { audit, catalog, vault, ledger, agents }, { paymentWindowMinutes: p.config.orderPaymentWindowMinutes, maxUnpaidPerBuyer: p.config.orderMaxUnpaidPerBuyer });
  const suppliers = createSupplierService(
    p,
    { audit, catalog, alerts, importPurchasedCodes: vault.importPurchasedCodes },
    { callbackBaseUrl: p.config.publicUrl, allowedHosts: p.config.supplierUrlAllowlist.length ? p.config.supplierUrlAllowlist : undefined },
  );
  return { audit, alerts, auth, customers, catalog, vault, inventory, agents, suppliers, ledger, orders };
}

export type Services = ReturnType<typeof createServices>;
