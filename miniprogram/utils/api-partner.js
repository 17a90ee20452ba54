// The partner-facing /mp/v1 routes (sold-out choice, group buying, referral,
// agent centre) as createPartnerApi(transport, hooks), like api.js; and the
// merchant scanner's client, createStaffApi, which signs open API requests
// with a store staff key (no customer session: the key is the credential).
const config = require('../config.js');
const { createTransport, wxRequest, newIdempotencyKey } = require('./transport.js');
const session = require('./session.js');
const { sha256Hex, hmacSha256Hex } = require('./hmac.js');

const enc = encodeURIComponent;

/** hooks as in api.js: ensureSession() before each call, relogin() once on a 401. */
function createPartnerApi(transport, hooks) {
  const h = hooks || {};
  async function authed(fn) {
    if (h.ensureSession) await h.ensureSession();
    try {
      return await fn();
    } catch (e) {
      if (e && e.status === 401 && h.relogin) {
        await h.relogin();
        return fn();
      }
      throw e;
    }
  }
  const get = (path, query) => authed(() => transport.get(path, query));
  const post = (path, body, key) => authed(() => transport.post(path, body, key ? { idempotencyKey: key } : undefined));

  return {
    // ---- an order paid while sold out ----
    /** choice 'wait' | 'refund' (to the balance); answers the order. */
    orderChoice: (orderId, choice, key) => post(`/mp/v1/orders/${enc(orderId)}/choice`, { choice }, key),

    // ---- group buying ----
    groupBuys: (skuId, query) => get('/mp/v1/group-buys', Object.assign({ sku_id: skuId }, query)),
    openGroups: (campaignId, query) => get(`/mp/v1/group-buys/${enc(campaignId)}/groups`, query),
    group: (groupId) => get(`/mp/v1/group-buys/groups/${enc(groupId)}`),
    /** payment 'balance' | 'wechat'; answers { group, order, payment? } (payment.client_params for wx.requestPayment). */
    openGroup: (campaignId, payment, key) => post(`/mp/v1/group-buys/${enc(campaignId)}/groups`, { payment }, key),
    joinGroup: (groupId, payment, key) => post(`/mp/v1/group-buys/groups/${enc(groupId)}/join`, { payment }, key),

    // ---- referral ----
    /** { code, link, rewarded_count, qr_png, poster_svg } (images as data URLs). */
    referral: () => get('/mp/v1/referral'),

    // ---- agent centre ----
    linkAgent: (code) => post('/mp/v1/agent/link', { code }),
    agentSummary: () => get('/mp/v1/agent/summary'),
    agentTeam: (query) => get('/mp/v1/agent/team', query),
    agentCommissions: (query) => get('/mp/v1/agent/commissions', query),
    agentWithdrawals: (query) => get('/mp/v1/agent/withdrawals', query),
    /** body { amount_fen, method: 'wechat_transfer'|'bank_transfer', payout_account? } */
    withdraw: (body, key) => post('/mp/v1/agent/withdrawals', body, key),
  };
}

/** The path part of the server address ('' for 'https://host'), which the signature covers. */
function basePath(baseUrl) {
  const m = /^[a-z]+:\/\/[^/]+(\/.*)?$/i.exec(String(baseUrl || ''));
  return m && m[1] ? m[1].replace(/\/+$/, '') : '';
}

function nonce() {
  let s = Date.now().toString(36);
  while (s.length < 24) s += Math.random().toString(36).slice(2);
  return s.slice(0, 32);
}

/**
 * The store staff's client for the offline redemption routes, signed with the
 * staff key: X-Kq-Signature = HMAC-SHA256(secret, METHOD\nPATH?QUERY\nTS\nNONCE\nsha256(body)).
 * opts: { keyId, secret, baseUrl, now?: () => ms }.
 */
function createStaffApi(transport, opts) {
  const prefix = basePath(opts.baseUrl);
  const now = opts.now || (() => Date.now());
  function signed(method, path, body, key) {
    const raw = body === undefined ? '' : JSON.stringify(body);
    const ts = String(Math.floor(now() / 1000));
    const n = nonce();
    const signature = hmacSha256Hex(opts.secret, [method, prefix + path, ts, n, sha256Hex(raw)].join('\n'));
    const headers = { 'x-kq-key': opts.keyId, 'x-kq-timestamp': ts, 'x-kq-nonce': n, 'x-kq-signature': signature };
    return transport.call(method, path, body, { token: null, headers, idempotencyKey: key });
  }
  return {
    /** Can this code (or the customer's QR token) be redeemed at my store? Changes nothing. */
    verify: (code) => signed('POST', '/open/v1/redemptions/verify', { code }),
    /** Redeems once; reuse `key` when retrying the same redemption. */
    redeem: (code, key) => signed('POST', '/open/v1/redemptions', { code }, key),
    /** My store's redemptions, newest first. */
    redemptions: (query) => {
      const q = query || {};
      const parts = Object.keys(q).filter((k) => q[k] !== undefined && q[k] !== null && q[k] !== '').map((k) => `${enc(k)}=${enc(String(q[k]))}`);
      return signed('GET', `/open/v1/redemptions${parts.length ? `?${parts.join('&')}` : ''}`);
    },
  };
}

function currentTransport(getToken) {
  return createTransport({ baseUrl: config.baseUrl, request: wxRequest, getToken });
}
const lazy = (getToken) => ({
  get: (...a) => currentTransport(getToken).get(...a),
  post: (...a) => currentTransport(getToken).post(...a),
  call: (...a) => currentTransport(getToken).call(...a),
});

const partnerApi = createPartnerApi(lazy(session.getToken), { ensureSession: session.ensureLogin, relogin: session.relogin });

/** The scanner's client for a stored staff key, over wx.request to config.baseUrl. */
function staffApi(key) {
  return createStaffApi(lazy(() => null), { keyId: key.keyId, secret: key.secret, baseUrl: config.baseUrl });
}

module.exports = { createPartnerApi, createStaffApi, partnerApi, staffApi, newIdempotencyKey };
