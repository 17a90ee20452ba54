// The customer's session: a bearer token from POST /mp/v1/login kept in wx
// storage (never in page data or logs). wx.login gives a one-time code that the
// server exchanges through WeChat's code2session; a 401 later means the token
// expired or was revoked, and the API layer calls relogin() once and retries.
const config = require('../config.js');
const { createTransport, wxRequest } = require('./transport.js');

const STORAGE_KEY = 'kq_session';

function read() {
  try {
    const s = wx.getStorageSync(STORAGE_KEY);
    return s && s.token ? s : null;
  } catch (e) {
    return null;
  }
}

function getToken() {
  const s = read();
  return s ? s.token : null;
}

/** { customerId, phone, expiresAt } of the stored session, without the token. */
function current() {
  const s = read();
  return s ? { customerId: s.customer_id, phone: s.phone, expiresAt: s.expires_at } : null;
}

function wxLoginCode() {
  return new Promise((resolve, reject) => {
    wx.login({
      success: (res) => (res && res.code ? resolve(res.code) : reject(new Error('wx.login gave no code'))),
      fail: (e) => reject(new Error((e && e.errMsg) || 'wx.login failed')),
    });
  });
}

// Concurrent callers (several requests hitting 401 at once) share one login.
let pending = null;

/** Logs in with a fresh wx.login code; stores and answers the session. */
function login() {
  if (pending) return pending;
  pending = (async () => {
    const code = await wxLoginCode();
    // A transport of its own: the login call must not carry a stale token.
    const transport = createTransport({ baseUrl: config.baseUrl, request: wxRequest, getToken: () => null });
    const res = await transport.post('/mp/v1/login', { code });
    const stored = { token: res.token, expires_at: res.expires_at, customer_id: res.customer.id, phone: res.customer.phone };
    wx.setStorageSync(STORAGE_KEY, stored);
    return { customerId: res.customer.id, phone: res.customer.phone, created: res.customer.created };
  })();
  const done = () => {
    pending = null;
  };
  pending.then(done, done);
  return pending;
}

/** The stored session, logging in first when there is none (or it has expired). */
async function ensureLogin() {
  const s = read();
  if (s && (!s.expires_at || Date.parse(s.expires_at) > Date.now())) return current();
  return login();
}

/**
 * Called by the API layer on a 401 with the token that was refused: forget it and log in again. When several calls
 * fail together, the first logs in and the others find a new token already stored (or share the pending login).
 */
function relogin(staleToken) {
  const now = getToken();
  if (pending) return pending;
  if (now && staleToken && now !== staleToken) return Promise.resolve(current());
  clear();
  return login();
}

function clear() {
  try {
    wx.removeStorageSync(STORAGE_KEY);
  } catch (e) {
    // storage unavailable: nothing to forget
  }
}

/** Keeps the masked phone beside the session after getPhoneNumber. */
function rememberPhone(masked) {
  const s = read();
  if (s) wx.setStorageSync(STORAGE_KEY, Object.assign({}, s, { phone: masked }));
}

module.exports = { STORAGE_KEY, getToken, current, login, ensureLogin, relogin, clear, rememberPhone };
