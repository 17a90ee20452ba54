// The one place that says where the kaquan server is. Point it at your
// deployment (it must be an HTTPS domain listed in the mini-program's
// "request legal domains" for a release build; the developer tools accept
// http://127.0.0.1 with "do not verify domain" ticked).
module.exports = {
  baseUrl: 'http://127.0.0.1:3000',
  // The expiry-reminder subscribe-message template ids (WECHAT_MP_REMINDER_TEMPLATE_ID on the server), used
  // only when the server does not list them at GET /mp/v1/subscriptions/templates.
  subscribeTemplateIds: [],
};
