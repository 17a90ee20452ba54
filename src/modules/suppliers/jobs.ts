import type { JobDefinition } from '../jobs/engine.js';
import type { SupplierService } from './service.js';

/**
 * Recurring supplier work. Each run does the whole job again, so a failed
 * run is not retried at length: the next tick is the retry.
 */
export function supplierJobDefinitions(suppliers: SupplierService): JobDefinition[] {
  return [
    {
      name: 'suppliers.sync',
      cron: '*/5 * * * *',
      retryLimit: 1,
      expireInSeconds: 4 * 60,
      handler: async () => {
        await suppliers.syncAll();
      },
    },
    {
      name: 'suppliers.poll-orders',
      cron: '* * * * *',
      retryLimit: 0,
      expireInSeconds: 5 * 60,
      handler: async () => {
        await suppliers.pollOpenOrders();
      },
    },
    {
      name: 'suppliers.health-check',
      cron: '* * * * *',
      retryLimit: 0,
      expireInSeconds: 5 * 60,
      handler: async () => {
        await suppliers.checkHealth();
      },
    },
  ];
}
