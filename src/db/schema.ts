// The schema index: every module's tables, for drizzle and its migrations.
export * from '../modules/auth/schema.js';
export * from '../modules/audit/schema.js';
export * from '../modules/customers/schema.js';
export * from '../modules/catalog/schema.js';
export * from '../modules/vault/schema.js';
export * from '../modules/agents/schema.js';
export * from '../modules/commissions/schema.js';
export * from '../modules/inventory/schema.js';
export * from '../modules/alerts/schema.js';
export * from '../modules/suppliers/schema.js';
export * from '../modules/ledger/schema.js';
export * from '../modules/orders/schema.js';
export * from '../modules/payments/schema.js';
export * from '../modules/webhooks/schema.js';
export * from '../modules/withdrawals/schema.js';
export * from '../modules/tracing/schema.js';
export * from '../modules/risk/schema.js';
