import type { Services } from '../../services.js';
import type { Config } from '../../config.js';
import type { JobDefinition } from './engine.js';
import { supplierJobDefinitions } from '../suppliers/jobs.js';

/** Every recurring and on-demand job of the platform, in one list. */
export function jobDefinitions(s: Services, config: Config): JobDefinition[] {
  return [
    // Analytics rollups catch up with committed order changes (and publish their live events); reads and live sockets also do it sooner.
    { name: 'analytics.apply-order-changes', cron: '* * * * *', retryLimit: 0, handler: async () => void (await s.liveHub.drain()) },
    // Demand forecasts refitted once the report day (REPORT_TIMEZONE) closed: hourly, so it works in any zone; only the first run of a day fits.
    { name: 'analytics.refresh-forecasts', cron: '10 * * * *', retryLimit: 2, handler: async () => void (await s.analytics.refreshForecasts()) },
    { name: 'auth.purge-expired-sessions', cron: '17 * * * *', handler: async () => void (await s.auth.purgeExpiredSessions()) },
    // Wallet expiry reminders: once per code and rule (the wallet_reminders row), so an extra run sends nothing twice.
    { name: 'wallet.send-reminders', cron: '43 * * * *', handler: async () => void (await s.walletReminders.run()) },
    { name: 'miniprogram.purge-expired-sessions', cron: '19 * * * *', handler: async () => void (await s.miniProgram.purgeExpiredSessions()) },
    // Safety net behind the orders' own deadline handling.
    { name: 'vault.release-expired-reservations', cron: '* * * * *', handler: async () => void (await s.vault.releaseExpiredReservations()) },
    { name: 'vault.expire-codes', cron: '*/10 * * * *', handler: async () => void (await s.vault.expireCodes()) },
    { name: 'vault.cleanup-stalled-imports', cron: '23 * * * *', handler: async () => void (await s.vault.cleanupStalledImports()) },
    { name: 'inventory.check-low-stock', cron: '*/5 * * * *', handler: async () => void (await s.inventory.checkLowStock()) },
    { name: 'inventory.check-expiring', cron: '7 * * * *', handler: async () => void (await s.inventory.checkExpiring(config.vaultExpiryAlertDays)) },
    {
      name: 'orders.cancel-expired',
      cron: '* * * * *',
      handler: async () => {
        // A notification may have been lost: ask the provider before giving the codes back.
        for (const id of await s.orders.dueForCancel()) await s.payments.reconcile(id).catch(() => undefined);
        await s.orders.cancelExpired();
      },
    },
    // Retention: daily, in short batches, at 03:41-03:53 China time (cron is UTC).
    { name: 'orders.purge-idempotency-keys', cron: '41 19 * * *', retryLimit: 2, handler: async () => void (await s.orderRetention.purgeIdempotencyKeys()) },
    { name: 'orders.purge-reveal-tokens', cron: '47 19 * * *', retryLimit: 2, handler: async () => void (await s.orderRetention.purgeRevealTokens()) },
    { name: 'webhooks.purge-delivered-events', cron: '53 19 * * *', retryLimit: 2, handler: async () => void (await s.webhookRetention.purgeDeliveredEvents()) },
    // Paid orders that waited for stock are completed once codes are back; refunds are sent until the provider confirms.
    { name: 'orders.fulfil-awaiting', cron: '* * * * *', handler: async () => void (await s.orders.fulfilAwaiting()) },
    // Delivered orders accrue their commissions shortly after the sale, outside its transaction.
    { name: 'commissions.accrue-delivered', cron: '* * * * *', handler: async () => void (await s.commissions.accrueDelivered()) },
    // Commissions past their hold become available to withdraw (batches; concurrent runs skip each other's rows).
    {
      name: 'commissions.settle-due',
      cron: '*/5 * * * *',
      handler: async () => {
        // Batches of 200 until none is full (bounded, so one run never holds the worker for long).
        for (let i = 0; i < 50 && (await s.commissions.settleDue(200)) === 200; i++);
      },
    },
    // Points: delivered customer orders earn, refunds take back in proportion (a minute after the sale, outside it).
    { name: 'marketing.points-earn', cron: '* * * * *', handler: async () => void (await s.pointsEarning.run()) },
    { name: 'marketing.points-expire', cron: '11 * * * *', handler: async () => void (await s.points.expireDue()) },
    // Groups past their deadline that did not fill: failed, every paid member refunded (balance in the group's transaction, providers after).
    // Flash sales a minute past their end: the gate's count compared with the orders (the truth), repaired, the difference recorded.
    { name: 'marketing.flash-sales-reconcile', cron: '* * * * *', handler: async () => void (await s.flashSales.reconcileEnded()) },
    { name: 'marketing.group-buy-expire', cron: '* * * * *', handler: async () => void (await s.groupBuys.expireDue()) },
    // Unfinished fission red packets past their time: expired, their reserved reward back in the campaign budget.
    { name: 'marketing.fission-expire', cron: '*/5 * * * *', handler: async () => void (await s.fission.expireDue()) },
    // Risk flags on agents (refund rate, sales spikes, self-referral) raised as alerts for staff.
    { name: 'agents.check-anomalies', cron: '29 * * * *', handler: async () => void (await s.agentAnomalies.check()) },
    // Alerts copied to the admin Telegram chat; each message row keeps its own retries, so the job itself does not retry.
    { name: 'alerts.send-admin-chat', cron: '* * * * *', retryLimit: 0, handler: async () => void (await s.alerts.adminChat.deliverDue()) },
    // Chat messages (codes after external payments, announcements): queued from delivered orders, then sent within the
    // platforms' limits for up to 45 s; the bots' in-process pump (outbound.start()) makes this a safety net.
    // Inbound dedupe marks of the chat channels: platforms retry for minutes, the marks are kept 3 days.
    { name: 'bots.prune-inbound', cron: '37 19 * * *', retryLimit: 2, handler: async () => void (await s.botSessions.pruneInbound()) },
    { name: 'bots.outbound-deliver', cron: '* * * * *', retryLimit: 0, handler: async () => {
        await s.chatDeliveries.scanDelivered();
        await s.outbound.drain(45_000);
      },
    },
    { name: 'payments.send-refunds', cron: '* * * * *', handler: async () => void (await s.payments.sendPendingRefunds()) },
    // Coupons past their end are marked expired (lists already show them so; this keeps the state column honest).
    { name: 'coupons.expire-due', cron: '13 * * * *', handler: async () => void (await s.coupons.expireDue()) },
    // Lapsed wallet gifts are marked expired (their codes never left the givers; claims already refuse them).
    { name: 'wallet.expire-gifts', cron: '19 * * * *', handler: async () => void (await s.wallet.expireDue()) },
    ...supplierJobDefinitions(s.suppliers),
    ...s.webhooks.jobDefinitions(),
  ];
}
