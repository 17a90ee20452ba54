import type { ComponentType } from 'preact';
import { opsPages } from './ops/index';

/** One page of the panel: its hash path, nav title, the permission that shows it, and its lazily loaded component. */
export interface PageDef {
  path: string;
  /** An i18n key (MessageKey); kept a string so the registry does not depend on every dictionary. */
  titleKey: string;
  permission: string;
  group: 'overview' | 'supply' | 'sales' | 'channels' | 'marketing' | 'risk' | 'system';
  component: () => Promise<{ default: ComponentType }>;
  /** Reachable by URL but not listed in the navigation. */
  hidden?: boolean;
}

export const groups: PageDef['group'][] = ['overview', 'supply', 'sales', 'channels', 'marketing', 'risk', 'system'];

const shellPages: PageDef[] = [
  { path: '/dashboard', titleKey: 'nav.dashboard', permission: 'analytics:read', group: 'overview', component: () => import('./dashboard') },
  { path: '/reports', titleKey: 'nav.reports', permission: 'analytics:read', group: 'overview', component: () => import('./reports/index') },
  { path: '/account', titleKey: 'nav.account', permission: 'self', group: 'system', component: () => import('./account') },
];

export const pages: PageDef[] = [...shellPages, ...opsPages];

export function findPage(path: string): PageDef | undefined {
  // The longest registered prefix wins, so '/orders/ord_1' opens the '/orders' page.
  return pages
    .filter((p) => path === p.path || path.startsWith(`${p.path}/`))
    .sort((a, b) => b.path.length - a.path.length)[0];
}

/** Where a user lands after login: the first page they may see. */
export function homePath(permissions: readonly string[]): string {
  return pages.find((p) => !p.hidden && permissions.includes(p.permission))?.path ?? '/account';
}
