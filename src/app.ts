import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import helmet from '@fastify/helmet';
import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { randomUUID } from 'node:crypto';
import type { Platform } from './platform.js';
import type { Services } from './services.js';
import { validatorCompiler } from './http/validation.js';
import { frameworkErrorReply, installErrorHandling } from './http/errors.js';
import { installJsonBodyParser } from './http/json-body.js';
import { installNulGuard } from './http/nul-guard.js';
import { installAuth } from './http/auth.js';
import { adminStatic } from './http/admin-static.js';
import { ErrorBody } from './http/schemas.js';
import { healthRoutes } from './modules/health/routes.js';
import { authRoutes } from './modules/auth/routes.js';
import { auditRoutes } from './modules/audit/routes.js';
import { customerRoutes } from './modules/customers/routes.js';
import { catalogRoutes } from './modules/catalog/routes.js';
import { resalePriceRoutes } from './modules/catalog/resale-routes.js';
import { agentRoutes } from './modules/agents/routes.js';
import { agentBackOfficeRoutes } from './modules/agents/back-office-routes.js';
import { agentJoinRoutes } from './modules/agents/join-routes.js';
import { referralBindingRoutes } from './modules/agents/binding-routes.js';
import { agentScopeRoutes } from './modules/agents/scope-routes.js';
import { tracingRoutes } from './modules/tracing/routes.js';
import { alertRoutes } from './modules/alerts/routes.js';
import { vaultRoutes } from './modules/vault/routes.js';
import { inventoryRoutes } from './modules/inventory/routes.js';
import { supplierRoutes } from './modules/suppliers/routes.js';
import { orderRoutes } from './modules/orders/routes.js';
import { revealRoutes } from './modules/orders/reveal-routes.js';
import { paymentRoutes } from './modules/payments/routes.js';
import { webhookRoutes } from './modules/webhooks/routes.js';
import { withdrawalRoutes } from './modules/withdrawals/routes.js';
import { commissionRoutes } from './modules/commissions/routes.js';
import { riskRoutes } from './modules/risk/routes.js';
import { riskReviewRoutes } from './modules/risk/review-routes.js';
import { riskBacktestStaffRoutes } from './modules/risk/backtest-routes.js';
import { campaignRoutes } from './modules/marketing/campaign-routes.js';
import { campaignRoiRoutes } from './modules/marketing/campaign-roi-routes.js';
import { couponRoutes } from './modules/marketing/coupon-routes.js';
import { pointsRoutes } from './modules/marketing/points-routes.js';
import { rechargeRoutes } from './modules/marketing/recharge-routes.js';
import { fissionRoutes } from './modules/marketing/fission-routes.js';
import { cdkRoutes } from './modules/marketing/cdk-routes.js';
import { referralCdkRoutes } from './modules/marketing/referral-cdk-routes.js';
import { groupBuyRoutes } from './modules/marketing/group-buy-routes.js';
import { flashSaleRoutes } from './modules/marketing/flash-sale-routes.js';
import { walletRoutes } from './modules/wallet/routes.js';
import { createTelegramChannel, telegramBotRoutes } from '../bots/telegram/index.js';
import { createChatCore } from '../bots/core/core.js';
import { botLinkRoutes } from '../bots/core/link-routes.js';
import { createChatLinks } from '../bots/core/links.js';
import { wechatBotRoutes } from '../bots/wechat/routes.js';
import { redemptionRoutes } from './modules/redemption/routes.js';
import { miniProgramRoutes } from './modules/miniprogram/routes.js';
import { mpApiRoutes } from './modules/miniprogram/mp-routes.js';
import { mpPartnerRoutes } from './modules/miniprogram/mp-partner-routes.js';
import { mpAgentRoutes } from './modules/miniprogram/mp-agent-routes.js';
import { afterSalesRoutes } from './modules/after-sales/routes.js';
import websocket from '@fastify/websocket';
import { analyticsRoutes } from './modules/analytics/routes.js';

/** Builds the HTTP face of the platform from plugins and modules; nothing else happens here. */
export async function buildApp(platform: Platform, services: Services): Promise<FastifyInstance> {
  const { config } = platform;
  const app = Fastify({
    loggerInstance: platform.logger as FastifyBaseLogger,
    trustProxy: config.trustProxy,
    bodyLimit: config.bodyLimitBytes,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    ajv: { customOptions: { removeAdditional: false } },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    frameworkErrors: frameworkErrorReply,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  installErrorHandling(app);
  installJsonBodyParser(app);
  installNulGuard(app);
  app.addSchema(ErrorBody);

  await app.register(helmet, {
    // The admin panel and the API docs load only their own scripts and styles.
    contentSecurityPolicy: {
      directives: { defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'], connectSrc: ["'self'"] },
    },
  });
  await app.register(cookie, { secret: config.sessionSecret });
  if (config.corsOrigins.length > 0) await app.register(cors, { origin: config.corsOrigins, credentials: true });
  // Files are streamed to their route (code imports), never buffered here.
  await app.register(multipart, { limits: { fileSize: config.vaultImportMaxBytes, files: 1, fields: 10 } });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'kaquan API', version: '0.1.0', description: 'Admin API (session cookie or bearer token) and open API (HMAC-signed requests).' },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: 'kq_session' },
          bearer: { type: 'http', scheme: 'bearer' },
          signature: { type: 'apiKey', in: 'header', name: 'X-Kq-Signature', description: 'with X-Kq-Key, X-Kq-Timestamp, X-Kq-Nonce' },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true, uiConfig: { docExpansion: 'list' } });
  // The admin panel (admin/dist) at /admin/: served from a hook, so the API's permission guard on /admin/ routes stays total.
  await app.register(adminStatic);

  // WebSockets (the live dashboard, /admin/live); registered once for every module.
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  const guards = installAuth(app, services.auth, services.miniProgram);
  app.decorate('routeGuards', guards);

  await app.register(healthRoutes, { platform });
  await app.register(authRoutes, { auth: services.auth, secureCookies: config.publicUrl.startsWith('https://'), risk: services.risk });
  await app.register(auditRoutes, { audit: services.audit });
  await app.register(customerRoutes, { customers: services.customers });
  await app.register(catalogRoutes, { catalog: services.catalog, vault: services.vault });
  await app.register(resalePriceRoutes, { resalePrices: services.resalePrices });
  await app.register(agentRoutes, { agents: services.agents });
  await app.register(agentBackOfficeRoutes, { backOffice: services.agentBackOffice });
  await app.register(agentJoinRoutes, { platform, join: services.agentJoin, risk: services.risk });
  await app.register(referralBindingRoutes, { agents: services.agents, customers: services.customers });
  await app.register(agentScopeRoutes, { scopes: services.agentScopes });
  await app.register(alertRoutes, { alerts: services.alerts });
  await app.register(vaultRoutes, { vault: services.vault, maxImportBytes: config.vaultImportMaxBytes });
  await app.register(supplierRoutes, { suppliers: services.suppliers });
  await app.register(paymentRoutes, { payments: services.payments });
  await app.register(webhookRoutes, { webhooks: services.webhooks });
  await app.register(tracingRoutes, { tracing: services.tracing });
  await app.register(withdrawalRoutes, { withdrawals: services.withdrawals, risk: services.risk, reviews: services.riskReviews });
  await app.register(commissionRoutes, { commissions: services.commissions });
  await app.register(riskRoutes, { risk: services.risk, seedTemplates: config.riskSeedRules });
  await app.register(riskReviewRoutes, { reviews: services.riskReviews });
  await app.register(riskBacktestStaffRoutes, { backtest: services.riskBacktest, staffRisk: services.staffRisk });
  await app.register(orderRoutes, { platform, orders: services.orders, payments: services.payments, customers: services.customers, catalog: services.catalog, agents: services.agents, inventory: services.inventory, usageInstructions: async (skuId) => (await services.catalog.getSku(skuId)).usageInstructions, risk: services.risk, reviews: services.riskReviews });
  await app.register(revealRoutes, { platform, revealTokens: services.revealTokens, usageInstructions: async (skuId) => (await services.catalog.getSku(skuId)).usageInstructions });
  await app.register(inventoryRoutes, { inventory: services.inventory, vault: services.vault, expiringWithinDays: config.vaultExpiryAlertDays });
  await app.register(campaignRoutes, { campaigns: services.campaigns });
  await app.register(campaignRoiRoutes, { campaigns: services.campaigns, roi: services.campaignRoi });
  await app.register(couponRoutes, { coupons: services.coupons, customers: services.customers, risk: services.risk });
  await app.register(pointsRoutes, { points: services.points, exchange: services.pointsExchange, customers: services.customers });
  await app.register(rechargeRoutes, { recharges: services.recharges });
  await app.register(fissionRoutes, { fission: services.fission, customers: services.customers, risk: services.risk });
  await app.register(cdkRoutes, { cdk: services.cdk, customers: services.customers });
  await app.register(referralCdkRoutes, { referrals: services.referralCdks, customers: services.customers });
  await app.register(groupBuyRoutes, { groupBuys: services.groupBuys, orders: services.orders, payments: services.payments, customers: services.customers, risk: services.risk });
  await app.register(flashSaleRoutes, { flashSales: services.flashSales, purchase: services.flashPurchase });
  await app.register(walletRoutes, { wallet: services.wallet, customers: services.customers });
  await app.register(analyticsRoutes, { analytics: services.analytics, live: services.liveHub, auth: services.auth, campaigns: services.campaigns, roi: services.campaignRoi });
  await app.register(afterSalesRoutes, { afterSales: services.afterSales, customers: services.customers });
  await app.register(redemptionRoutes, { redemptions: services.redemptions, customers: services.customers });
  await app.register(miniProgramRoutes, { miniProgram: services.miniProgram });
  await app.register(mpApiRoutes, { platform, orders: services.orders, payments: services.payments, customers: services.customers, catalog: services.catalog, usageInstructions: async (skuId) => (await services.catalog.getSku(skuId)).usageInstructions, risk: services.risk, reviews: services.riskReviews, wallet: services.wallet, storeRedeemableSkus: (skuIds) => services.redemptions.storeRedeemableSkus(skuIds), coupons: services.coupons, afterSales: services.afterSales });
  await app.register(mpPartnerRoutes, { platform, orders: services.orders, payments: services.payments, customers: services.customers, groupBuys: services.groupBuys, referrals: services.referralCdks, consents: services.subscribeConsents, risk: services.risk });
  await app.register(mpAgentRoutes, { platform, agents: services.agents, backOffice: services.agentBackOffice, commissions: services.commissions, withdrawals: services.withdrawals, customers: services.customers, links: createChatLinks(platform, services), risk: services.risk, reviews: services.riskReviews });
  await app.register(botLinkRoutes, { links: createChatLinks(platform, services) });
  // The Telegram bot's webhook (TELEGRAM_BOT_MODE=webhook); long polling is started by main.ts instead.
  if (config.telegramBot?.mode === 'webhook') await app.register(telegramBotRoutes, { channel: createTelegramChannel(platform, services), webhookSecret: config.telegramBot.webhookSecret ?? '' });

  // WeChat Official Account and WeCom callbacks (bots/wechat), each only when configured.
  if (config.wechatBots.officialAccount || config.wechatBots.wecom) await app.register(wechatBotRoutes, { platform, core: createChatCore(platform, services), outbound: services.outbound });

  return app;
}
