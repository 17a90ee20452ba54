/**
 * Staff roles are sets of permissions; every admin route names the one
 * permission it needs and is refused (403) to roles without it.
 */
export const permissions = [
  'self', // own profile, password, second factor
  'staff:read',
  'staff:manage',
  'audit:read',
  'apikeys:manage',
  'customers:read',
  'customers:pii', // see a customer's full phone number
  'catalog:read',
  'catalog:write',
  'vault:read',
  'vault:import',
  'vault:reveal',
  'vault:export',
  'orders:read',
  'orders:refund',
  'orders:reveal-link', // issue a one-time link that shows an order's codes to its buyer
  'ledger:read',
  'finance:withdrawals',
  'agents:read',
  'agents:manage',
  'commissions:read',
  'commissions:manage',
  'risk:read',
  'risk:rules',
  'risk:review',
  'risk:manage', // rules and block lists
  'risk:staff-unblock', // lift a staff risk block (owners only)
  'marketing:read',
  'marketing:manage',
  'marketing:cdk-export', // export redemption codes (CDK) in clear; audited
  'support:tickets',
  'aftersales:read', // after-sales tickets ("this code does not work")
  'aftersales:decide', // replace, refund or reject a ticket
  'redemption:read', // merchants, stores, store staff, redemptions and their reports (offline redemption)
  'redemption:manage', // set up merchants, stores and store staff (issues their signing keys)
  'system:read',
  'analytics:read', // dashboards, reports, forecasts and the live dashboard socket
] as const;

export type Permission = (typeof permissions)[number];

export const roles = ['owner', 'operations', 'finance', 'risk', 'support', 'readonly'] as const;
export type Role = (typeof roles)[number];

const readAll: Permission[] = ['self', 'staff:read', 'catalog:read', 'vault:read', 'orders:read', 'agents:read', 'marketing:read', 'customers:read', 'system:read', 'analytics:read'];

export const rolePermissions: Record<Role, ReadonlySet<Permission>> = {
  owner: new Set(permissions),
  operations: new Set<Permission>([...readAll, 'catalog:write', 'vault:import', 'agents:manage', 'commissions:read', 'commissions:manage', 'marketing:manage', 'risk:read', 'orders:reveal-link', 'aftersales:read', 'aftersales:decide', 'redemption:read', 'redemption:manage']),
  finance: new Set<Permission>([...readAll, 'commissions:read', 'ledger:read', 'finance:withdrawals', 'orders:refund', 'audit:read']),
  risk: new Set<Permission>([...readAll, 'risk:read', 'risk:rules', 'risk:review', 'risk:manage', 'audit:read', 'customers:pii']),
  support: new Set<Permission>(['self', 'customers:read', 'orders:read', 'catalog:read', 'support:tickets', 'vault:reveal', 'orders:reveal-link', 'aftersales:read', 'aftersales:decide']),
  readonly: new Set<Permission>([...readAll, 'commissions:read']),
};

export function isRole(value: string): value is Role {
  return (roles as readonly string[]).includes(value);
}

export function roleAllows(role: string, permission: Permission): boolean {
  return isRole(role) && rolePermissions[role].has(permission);
}
