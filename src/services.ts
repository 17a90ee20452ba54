import type { Platform } from './platform.js';
import { createAuditService } from './modules/audit/service.js';
import { createAuthService } from './modules/auth/service.js';
import { createCustomerService } from './modules/customers/service.js';
import { createCatalogService } from './modules/catalog/service.js';
import { createResalePriceService } from './modules/catalog/resale-prices.js';
import { createAgentAnomalyService } from './modules/agents/anomalies.js';
import { createVaultService } from './modules/vault/service.js';
import { createAgentService } from './modules/agents/service.js';
import { createAgentBackOffice } from './modules/agents/back-office.js';
import { createAgentJoinService } from './modules/agents/join.js';
import { createAgentScopeService } from './modules/agents/scopes.js';
import { createAlertService } from './modules/alerts/service.js';
import { createTracingService } from './modules/tracing/service.js';
import { createInventoryService } from './modules/inventory/service.js';
import { createSupplierService } from './modules/suppliers/service.js';
import { createLedgerService } from './modules/ledger/service.js';
import { createWebhookService } from './modules/webhooks/service.js';
import { createOrderService } from './modules/orders/service.js';
import { createDeviceSharing } from './modules/risk/device-sharing.js';
import { createRevealTokenService } from './modules/orders/reveal-tokens.js';
import { createOrderRetention } from './modules/orders/retention.js';
import { createOrderReports } from './modules/orders/reports.js';
import { createWithdrawalService } from './modules/withdrawals/service.js';
import { createCommissionService } from './modules/commissions/service.js';
import { createWebhookRetention } from './modules/webhooks/retention.js';
import { createPaymentService } from './modules/payments/service.js';
import { createSandboxProvider } from './modules/payments/sandbox.js';
import { createWeChatPayProvider } from './modules/payments/wechat-pay.js';
import { createTelegramStarsProvider, starsInvoicesFrom } from './modules/payments/telegram-stars.js';
import { hmacSha256Hex } from './lib/crypto.js';
import { createRiskService } from './modules/risk/service.js';
import { createRiskReviews } from './modules/risk/reviews.js';
import { modelScore } from './modules/risk/model-score.js';
import { createStaffRiskService } from './modules/risk/staff-risk.js';
import { createBacktestService } from './modules/risk/backtest-service.js';
import { createPointsService } from './modules/marketing/points.js';
import { createPointsEarning } from './modules/marketing/points-earning.js';
import { createPointsExchange } from './modules/marketing/points-exchange.js';
import { createRechargeService } from './modules/marketing/recharge.js';
import { createFissionService } from './modules/marketing/fission.js';
import { createCdkService } from './modules/marketing/cdk-service.js';
import { createReferralCdkService } from './modules/marketing/referral-cdk.js';
import { createCampaignService } from './modules/marketing/campaign-service.js';
import { createCampaignRoiService } from './modules/marketing/campaign-roi.js';
import { createCouponService } from './modules/marketing/coupon-service.js';
import { createGroupBuyService } from './modules/marketing/group-buy-service.js';
import { createFlashSaleService } from './modules/marketing/flash-sale-service.js';
import { createFlashPurchase } from './modules/marketing/flash-sale-purchase.js';
import type { PaymentProvider, ProviderName } from './modules/payments/provider.js';
import { createOutboundQueue } from '../bots/core/outbound.js';
import { createChatDeliveries } from '../bots/core/outbound-deliveries.js';
import { createSessionStore } from '../bots/core/session.js';
import { createWalletService } from './modules/wallet/service.js';
import { createWalletReminders } from './modules/wallet/reminders.js';
import { createRedemptionService } from './modules/redemption/service.js';
import { createSubscribeConsents } from './modules/miniprogram/subscriptions.js';
import { createMiniProgramService } from './modules/miniprogram/service.js';
import { createAfterSalesService } from './modules/after-sales/service.js';
import { createAnalyticsService } from './modules/analytics/service.js';
import { createLiveHub } from './modules/analytics/live.js';

/** Every module's service, wired once; channels (HTTP, bots, mini-program) use only these. */
export function createServices(p: Platform) {
  const audit = createAuditService(p);
  const alerts = createAlertService(p);
  const auth = createAuthService(p, audit);
  const customers = createCustomerService(p);
  // Campaigns and coupons (issue 7): coupons are used by orders (deps.coupons) and given to every new customer (new-user pack).
  const campaigns = createCampaignService(p, { audit });
  const coupons = createCouponService(p, { audit, campaigns });
  customers.onCreated((customerId) => coupons.issueNewUserPack(customerId));
  const catalog = createCatalogService(p, { audit });
  // Staff risk counts the codes each staff member reveals and exports, and blocks one who takes far too many.
  const staffRisk = createStaffRiskService(p, { audit, alerts, auth }, { revealAlertPerHour: p.config.staffRevealAlertPerHour, exportAlertCodesPerDay: p.config.staffExportAlertCodesPerDay, blockMultiplier: p.config.staffRiskBlockMultiplier });
  const vault = createVaultService(p, { audit, catalog, staffGuard: staffRisk.guard });
  const inventory = createInventoryService(p, { audit, alerts, catalog, vault });
  const agents = createAgentService(p, { audit });
  const ledger = createLedgerService(p);
  const webhooks = createWebhookService(p, { audit }, {
    allowedHosts: p.config.webhookUrlAllowlist.length ? p.config.webhookUrlAllowlist : undefined,
    allowPrivateNetworks: p.config.webhookAllowPrivateNetworks,
    fetchTimeoutMs: p.config.webhookTimeoutMs,
  });
  const orderReports = createOrderReports(p);
  const commissions = createCommissionService(p, { audit, ledger, catalog, agents, orderReports }, { holdDays: p.config.commissionHoldDays });
  const resalePrices = createResalePriceService(p);
  // The wallet (issue 9): a gifted code leaves its order's buyer, so the orders module (reveal, refund) and reveal links
  // see an order's codes through the wallet, without those given away or promised in an open gift.
  const wallet = createWalletService(p, { vault }, { expiringSoonDays: 7, giftTtlHours: 72, publicUrl: p.config.publicUrl });
  // What an order's buyer still holds: codes given away as gifts belong to their new owner (refunds, reveals, after-sales see only the rest).
  const vaultForOrders = { ...vault, codesOfOrder: wallet.codesOfOrderWithBuyer };
  const orders = createOrderService(p, { audit, catalog, vault: vaultForOrders, ledger, agents, inventory, commissions, resalePrices, coupons, outbox: (events) => webhooks.outboxStatement(events as Parameters<typeof webhooks.outboxStatement>[0]).statement }, { paymentWindowMinutes: p.config.orderPaymentWindowMinutes, maxUnpaidPerBuyer: p.config.orderMaxUnpaidPerBuyer });
  // An order cancelled unpaid gives its coupon back (in the cancelling transaction).
  orders.onStatus('cancelled', async (tx, o) => void (o.couponId ? await coupons.releaseForOrder(tx, o.id) : undefined));
  const suppliers = createSupplierService(
    p,
    { audit, catalog, alerts, importPurchasedCodes: vault.importPurchasedCodes },
    { callbackBaseUrl: p.config.publicUrl, allowedHosts: p.config.supplierUrlAllowlist.length ? p.config.supplierUrlAllowlist : undefined, allowPrivateNetworks: p.config.supplierAllowPrivateNetworks },
  );
  const payments = createPaymentService(p, { orders, ledger }, paymentProviders(p), { notifyBaseUrl: p.config.publicUrl });
  const revealTokens = createRevealTokenService(p, { audit, vault: vaultForOrders }, { publicUrl: p.config.publicUrl });
  const orderRetention = createOrderRetention(p, { idempotencyDays: p.config.idempotencyRetentionDays });
  const webhookRetention = createWebhookRetention(p, { retentionDays: p.config.webhookRetentionDays });
  const withdrawals = createWithdrawalService(p, { ledger, agents, audit }, { minFen: p.config.withdrawalMinFen, feeBps: p.config.withdrawalFeeBps, feeMinFen: p.config.withdrawalFeeMinFen }, { dualApprovalFen: p.config.withdrawalDualApprovalFen, dailyLimitFen: p.config.withdrawalDailyLimitFen, dailyCount: p.config.withdrawalDailyCount });
  const tracing = createTracingService(p, { vault, orders, agents, alerts, audit });
  const agentAnomalies = createAgentAnomalyService(p, { alerts, orderReports, deviceSharing: createDeviceSharing(p) });
  const agentJoin = createAgentJoinService(p, { agents, customers, alerts, audit }, { autoApprove: p.config.agentJoinAutoApprove });
  const agentBackOffice = createAgentBackOffice(p, { agents, ledger, catalog, vault, audit, customers, inventory, orderReports, commissions, withdrawals });
  const agentScopes = createAgentScopeService(p, { audit, agents, catalog });
  // The learned score (RISK_MODEL_PATH), filled into features.score before the rules run; none without the file.
  const risk = createRiskService(p, { audit, score: modelScore(p.config.riskModelPath, p.logger) }, { captchaHmacKey: p.config.captchaHmacKey ?? hmacSha256Hex(p.hmacKey, 'risk-captcha'), captchaTtlSeconds: p.config.riskCaptchaTtlSeconds, captchaMaxNumber: p.config.riskCaptchaMaxNumber });
  const riskBacktest = createBacktestService(p, { flush: () => risk.flush() }, { batchSize: p.config.riskBacktestBatchSize });
  // The review queue calls back into the modules that hold the subjects; risk never imports them.
  const riskReviews = createRiskReviews(p, { audit, flushDecisions: risk.flush });
  riskReviews.register('order', { release: async (tx, id) => void (await orders.releaseHeld(tx, id)), reject: async (tx, id, reason) => void (await orders.rejectHeld(tx, id, reason)) });
  riskReviews.register('withdrawal', { release: (tx, id) => withdrawals.releaseRiskHold(tx, id), reject: (tx, id, reason, actor) => withdrawals.rejectHeld(tx, id, reason, actor) });
  // Loyalty (issue 7): points ledger, earning job, exchange catalogue, recharge bonuses, fission red packets.
  const points = createPointsService(p, { expiryDays: p.config.pointsExpiryDays });
  const pointsEarning = createPointsEarning(p, { points, orderReports }, { pointsPer100Fen: p.config.pointsPer100Fen });
  const pointsExchange = createPointsExchange(p, { points, audit, catalog, orders, coupons });
  const recharges = createRechargeService(p, { ledger, audit, customers });
  const fission = createFissionService(p, { ledger, points, audit, customers, orders });
  // Group buying (issue 7): seats counted when a member's order is paid, freed when an unpaid one is cancelled.
  const groupBuys = createGroupBuyService(p, { audit, catalog, customers, orders, payments, campaigns });
  const flashSales = createFlashSaleService(p, { audit, catalog, orderReports });
  const flashPurchase = createFlashPurchase(p, { flashSales, orders, orderReports, customers, catalog, agents, inventory, risk, reviews: riskReviews });
  orders.onStatus('awaiting_group', (tx, o) => groupBuys.onMemberPaid(tx, o));
  orders.onStatus('cancelled', (tx, o) => groupBuys.onOrderCancelled(tx, o));
  // A cancelled flash-sale order gives its units back to the sale's database counter (refunds do not).
  orders.onStatus('cancelled', (tx, o) => flashSales.onOrderCancelled(tx, o));
  // Redemption codes and referral codes (issue 7): rewards through the promotion budget, coupons and points.
  const cdk = createCdkService(p, { audit, ledger, risk, points, coupons, orders, revealCodes: orders.revealCodes, retailPriceOf: async (skuId, tx) => (await catalog.getSku(skuId, tx)).retailPriceFen }, { failuresPer10Minutes: p.config.cdkLockoutFailures, ipFailuresPer10Minutes: p.config.cdkLockoutIpFailures });
  const referralCdks = createReferralCdkService(p, { audit, ledger, risk, points, coupons, agents, customers, priorOrdersStatement: orders.priorOrdersStatement });
  // Campaign ROI reads the orders' and the ledger's sums per campaign.
  const campaignRoi = createCampaignRoiService(p, { orderReports, ledger });
  // Chat channels (issue 8): the outbound queue (adapters register their senders) and the codes it sends after external payments.
  const outbound = createOutboundQueue(p);
  // Chat sessions and the inbound dedupe marks (pruned daily by a job).
  const botSessions = createSessionStore(p);
  const chatDeliveries = createChatDeliveries(p, { queue: outbound, vault, catalog, agents, orderReports });
  outbound.onPump(() => chatDeliveries.scanDelivered(100, 1));
  // Wallet expiry reminders (issue 9): N days before a code expires, its owner is told once per rule by chat or mini-program.
  // Mini-program subscribe consents: one accepted template sends one message, so a reminder goes by mini-program only with one.
  const subscribeConsents = createSubscribeConsents(p, { expiryReminder: p.config.wechatMpReminderTemplateId });
  const walletReminders = createWalletReminders(p, { customers, orderReports, outbound, consents: subscribeConsents }, { days: p.config.walletReminderDays, mpTemplateId: p.config.wechatMpReminderTemplateId });
  // After-sales (issue 9): tickets for codes that do not work; replacement, refund or reject, the customer told by webhook and chat.
  const afterSales = createAfterSalesService(p, { audit, orders, vault: vaultForOrders, payments, ledger, catalog, wallet, outbox: (events) => webhooks.outboxStatement(events as Parameters<typeof webhooks.outboxStatement>[0]).statement, outbound });
  // Offline redemption (issue 9): merchants, stores and store staff; a code's owner (for QR tokens) is the wallet's answer (gifts included).
  const redemptions = createRedemptionService(p, { audit, alerts, auth, catalog, vault, ownerOfCode: (code) => wallet.ownerOfCode(code.id) });
  // Mini-program login (issue 9): wx.login through code2session, customer sessions for /mp/v1.
  const miniProgram = createMiniProgramService(p, { customers });
  // Analytics (issue 10): rollups fed by committed order changes, reports, forecasts; the live dashboard's fan-out.
  const analytics = createAnalyticsService(p, { catalog, vault, alerts });
  const liveHub = createLiveHub(p, analytics);
  return { analytics, liveHub, miniProgram, subscribeConsents, wallet, walletReminders, redemptions, afterSales, botSessions, outbound, chatDeliveries, campaignRoi, campaigns, coupons, groupBuys, flashSales, flashPurchase, cdk, referralCdks, points, pointsEarning, pointsExchange, recharges, fission, riskReviews, staffRisk, riskBacktest, risk, commissions, audit, alerts, auth, customers, catalog, vault, inventory, agents, suppliers, ledger, webhooks, orders, payments, revealTokens, orderRetention, webhookRetention, withdrawals, tracing, resalePrices, agentAnomalies, agentBackOffice, agentJoin, agentScopes, orderReports };
}

/** The payment providers this installation has: the sandbox outside production, WeChat Pay and Telegram Stars when configured. */
export function paymentProviders(p: Platform): Partial<Record<ProviderName, PaymentProvider>> {
  const out: Partial<Record<ProviderName, PaymentProvider>> = {};
  if (p.config.sandboxPayments) out.sandbox = createSandboxProvider({ secret: sandboxSecret(p), clock: p.clock });
  if (p.config.wechatPay) out.wechat = createWeChatPayProvider(p.config.wechatPay, p.clock);
  if (p.config.telegramStars) out.stars = createTelegramStarsProvider({ ...p.config.telegramStars, invoices: starsInvoicesFrom(p.db) });
  return out;
}

/** The sandbox's notification secret, derived from this installation's HMAC key (the demo signs with it). */
export const sandboxSecret = (p: Platform) => hmacSha256Hex(p.hmacKey, 'sandbox-payments');

export type Services = ReturnType<typeof createServices>;
