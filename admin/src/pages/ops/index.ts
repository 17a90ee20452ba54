import type { PageDef } from '../registry';

/**
 * The operational pages (admin-ops). Each is its own lazily loaded chunk; a
 * page is listed for whoever holds its permission, and the tabs and buttons
 * inside check the finer permissions of the calls they make.
 */
export const opsPages: PageDef[] = [
  { path: '/products', titleKey: 'nav.ops.products', permission: 'catalog:read', group: 'supply', component: () => import('./products') },
  { path: '/vault', titleKey: 'nav.ops.vault', permission: 'vault:read', group: 'supply', component: () => import('./vault') },
  { path: '/stock', titleKey: 'nav.ops.stock', permission: 'catalog:read', group: 'supply', component: () => import('./stock') },
  { path: '/suppliers', titleKey: 'nav.ops.suppliers', permission: 'catalog:read', group: 'supply', component: () => import('./suppliers') },
  { path: '/orders', titleKey: 'nav.ops.orders', permission: 'orders:read', group: 'sales', component: () => import('./orders') },
  { path: '/customers', titleKey: 'nav.ops.customers', permission: 'customers:read', group: 'sales', component: () => import('./customers') },
  { path: '/after-sales', titleKey: 'nav.ops.after_sales', permission: 'aftersales:read', group: 'sales', component: () => import('./after-sales') },
  { path: '/agents', titleKey: 'nav.ops.agents', permission: 'agents:read', group: 'channels', component: () => import('./agents') },
  { path: '/withdrawals', titleKey: 'nav.ops.withdrawals', permission: 'finance:withdrawals', group: 'channels', component: () => import('./withdrawals') },
  { path: '/redemption', titleKey: 'nav.ops.redemption', permission: 'redemption:read', group: 'channels', component: () => import('./redemption') },
  { path: '/marketing', titleKey: 'nav.ops.marketing', permission: 'marketing:read', group: 'marketing', component: () => import('./marketing') },
  { path: '/risk', titleKey: 'nav.ops.risk', permission: 'risk:read', group: 'risk', component: () => import('./risk') },
  { path: '/tracing', titleKey: 'nav.ops.tracing', permission: 'risk:read', group: 'risk', component: () => import('./tracing') },
  { path: '/audit', titleKey: 'nav.ops.audit', permission: 'audit:read', group: 'system', component: () => import('./audit') },
  { path: '/system', titleKey: 'nav.ops.system', permission: 'staff:read', group: 'system', component: () => import('./system') },
  { path: '/settings', titleKey: 'nav.ops.settings', permission: 'self', group: 'system', component: () => import('./settings') },
];
