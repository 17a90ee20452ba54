// One function per consumer /mp/v1 route. createApi(transport) is the factory
// (Node tests pass a transport over fetchRequest); `api` is the instance pages
// use: wx.request to config.baseUrl, the session token from storage, a login
// before the first call and one re-login + retry when the server answers 401.
const config = require('../config.js');
const { createTransport, wxRequest, newIdempotencyKey } = require('./transport.js');
const session = require('./session.js');

const enc = encodeURIComponent;

/**
 * hooks.ensureSession(): called before each call (log in when there is no token);
 * hooks.relogin(staleToken): called once on a 401 with the token the call used, then the call is retried;
 * hooks.currentToken(): the token a call is about to use.
 */
function createApi(transport, hooks) {
  const h = hooks || {};
  async function authed(fn) {
    if (h.ensureSession) await h.ensureSession();
    const used = h.currentToken ? h.currentToken() : null;
    try {
      return await fn();
    } catch (e) {
      if (e && e.status === 401 && h.relogin) {
        await h.relogin(used);
        return fn();
      }
      throw e;
    }
  }
  const get = (path, query) => authed(() => transport.get(path, query));
  const post = (path, body, key) => authed(() => transport.post(path, body, key ? { idempotencyKey: key } : undefined));

  return {
    // ---- account ----
    me: () => get('/mp/v1/me'),
    /** code: from a getPhoneNumber button (e.detail.code); answers { phone } masked. */
    setPhone: (code) => post('/mp/v1/phone', { code }),
    logout: () => post('/mp/v1/logout', {}),

    // ---- catalog ----
    catalog: (query) => get('/mp/v1/catalog', query),
    sku: (skuId) => get(`/mp/v1/catalog/skus/${enc(skuId)}`),

    // ---- orders ----
    /** body { sku_id, quantity, payment: 'balance'|'wechat', coupon_id? }; reuse `key` when retrying the same purchase. */
    createOrder: (body, key) => post('/mp/v1/orders', body, key),
    orders: (query) => get('/mp/v1/orders', query),
    order: (orderId) => get(`/mp/v1/orders/${enc(orderId)}`),
    revealOrder: (orderId) => post(`/mp/v1/orders/${enc(orderId)}/reveal`, {}),

    // ---- wallet (asset pack) and gifts ----
    wallet: (query) => get('/mp/v1/wallet', query),
    revealCode: (codeId) => post(`/mp/v1/wallet/codes/${enc(codeId)}/reveal`, {}),
    /** A short-lived token (and its QR image) to show at a store instead of the code: { token, qr_png, expires_in_seconds, expires_at }. */
    redemptionQrToken: (codeId) => post('/mp/v1/redemptions/qr-token', { code_id: codeId }),
    /** body { message?, expires_in_hours? }; answers the gift card with its single-use token. */
    giftCode: (codeId, body, key) => post(`/mp/v1/wallet/codes/${enc(codeId)}/gift`, body || {}, key),
    claimGift: (token) => post('/mp/v1/wallet/gifts/claim', { token }),
    cancelGift: (giftId) => post(`/mp/v1/wallet/gifts/${enc(giftId)}/cancel`, {}),

    // ---- coupons ----
    coupons: (query) => get('/mp/v1/coupons', query),
    /** Coupon templates I can claim now (terms only), newest first. */
    claimableCoupons: (query) => get('/mp/v1/coupons/claimable', query),
    claimCoupon: (templateId, key) => post('/mp/v1/coupons/claim', { template_id: templateId }, key),

    // ---- after-sales ----
    /** body { order_id, code_ids, description, evidence_urls? } */
    openTicket: (body, key) => post('/mp/v1/after-sales', body, key),
    tickets: (query) => get('/mp/v1/after-sales', query),
    ticket: (ticketId) => get(`/mp/v1/after-sales/${enc(ticketId)}`),

    // ---- subscribe messages (expiry reminders) ----
    /**
     * The templates to ask for in wx.requestSubscribeMessage: { templates: [{ template_id, purpose }], unused }.
     * A server without the route (404) falls back to config.subscribeTemplateIds.
     */
    subscriptionTemplates: () =>
      get('/mp/v1/subscriptions/templates').catch((e) => {
        if (e && e.status === 404) return { templates: (config.subscribeTemplateIds || []).map((id) => ({ template_id: id, purpose: 'expiry_reminder' })), unused: {} };
        throw e;
      }),
    /** Records the template ids the customer accepted just now (one message each). */
    recordSubscriptions: (templateIds, key) => post('/mp/v1/subscriptions', { template_ids: templateIds }, key),
  };
}

// The default transport reads config.baseUrl on every call, so changing the
// address (developer tools, tests) needs no rebuild of this module.
function currentTransport() {
  return createTransport({ baseUrl: config.baseUrl, request: wxRequest, getToken: session.getToken });
}
const lazyTransport = {
  get: (...a) => currentTransport().get(...a),
  post: (...a) => currentTransport().post(...a),
  put: (...a) => currentTransport().put(...a),
  del: (...a) => currentTransport().del(...a),
  call: (...a) => currentTransport().call(...a),
};

const api = createApi(lazyTransport, { ensureSession: session.ensureLogin, relogin: session.relogin, currentToken: session.getToken });

module.exports = { createApi, api, newIdempotencyKey };
