// One way to call the kaquan server, shared by every API file and by the
// Node tests: the mini-program passes an adapter over wx.request, the tests
// one over fetch. Errors come back as ApiError with the server's code, its
// message and the field at fault, so pages can point at the right input.

class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details || null;
    const first = Array.isArray(details) && details[0] && details[0].field ? details[0].field : null;
    this.field = first;
  }
}

let keyCounter = 0;
/** An idempotency key for one user action; reuse it when retrying that same action. */
function newIdempotencyKey(prefix) {
  keyCounter += 1;
  const rand = Math.random().toString(36).slice(2, 12);
  return `${prefix || 'mp'}-${Date.now().toString(36)}-${keyCounter}-${rand}`;
}

/**
 * request(options) -> Promise<{ status, data }>, where options are
 * { url, method, header, data } as wx.request takes them.
 * getToken() returns the customer's session token, or null before login.
 */
function createTransport({ baseUrl, request, getToken }) {
  if (!baseUrl) throw new Error('baseUrl is required');
  const root = baseUrl.replace(/\/+$/, '');

  async function call(method, path, body, opts) {
    const options = opts || {};
    const header = { accept: 'application/json' };
    if (body !== undefined) header['content-type'] = 'application/json';
    const token = options.token !== undefined ? options.token : getToken ? getToken() : null;
    if (token) header.authorization = `Bearer ${token}`;
    if (options.idempotencyKey) header['idempotency-key'] = options.idempotencyKey;
    if (options.headers) Object.assign(header, options.headers);
    let url = root + path;
    if (options.query) {
      const parts = Object.keys(options.query)
        .filter((k) => options.query[k] !== undefined && options.query[k] !== null && options.query[k] !== '')
        .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(String(options.query[k]))}`);
      if (parts.length) url += (url.includes('?') ? '&' : '?') + parts.join('&');
    }
    const res = await request({ url, method, header, data: body });
    const data = res.data;
    if (res.status >= 200 && res.status < 300) return data;
    const err = data && data.error ? data.error : {};
    throw new ApiError(res.status, err.code || 'HTTP_' + res.status, err.message || `request failed (${res.status})`, err.details);
  }

  return {
    get: (path, query, opts) => call('GET', path, undefined, Object.assign({}, opts, { query })),
    post: (path, body, opts) => call('POST', path, body === undefined ? {} : body, opts),
    put: (path, body, opts) => call('PUT', path, body === undefined ? {} : body, opts),
    del: (path, opts) => call('DELETE', path, undefined, opts),
    call,
  };
}

/** The adapter the mini-program uses: wx.request wrapped in a promise. */
function wxRequest(options) {
  return new Promise((resolve, reject) => {
    wx.request({
      url: options.url,
      method: options.method,
      header: options.header,
      data: options.data,
      dataType: 'json',
      success: (res) => resolve({ status: res.statusCode, data: res.data }),
      fail: (e) => reject(new ApiError(0, 'NETWORK', (e && e.errMsg) || 'network error', null)),
    });
  });
}

/** The adapter Node uses (tests, scripts): the same options over fetch. */
function fetchRequest(options) {
  const init = { method: options.method, headers: options.header };
  if (options.data !== undefined) init.body = JSON.stringify(options.data);
  return fetch(options.url, init).then(async (res) => {
    const text = await res.text();
    let data = text;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = text;
    }
    return { status: res.status, data };
  });
}

module.exports = { ApiError, createTransport, newIdempotencyKey, wxRequest, fetchRequest };
