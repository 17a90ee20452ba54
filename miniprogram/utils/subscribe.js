// Subscribe consent (订阅消息): WeChat lets the server send one message per
// acceptance, so the app asks when the customer taps buy (the dialog must come
// from a tap) and reports what was accepted to the server.
const { api, newIdempotencyKey } = require('./api.js');

/** Template ids worth asking for (expiry reminders); [] when the server has none. */
async function reminderTemplateIds() {
  try {
    const res = await api.subscriptionTemplates();
    return (res.templates || []).map((t) => t.template_id);
  } catch (e) {
    return [];
  }
}

/**
 * Shows the WeChat consent dialog for tmplIds and records the accepted ones.
 * Never throws: a refusal or a failure must not stop the purchase it precedes.
 * Answers the accepted ids.
 */
function askConsent(tmplIds) {
  if (!tmplIds || !tmplIds.length) return Promise.resolve([]);
  return new Promise((resolve) => {
    wx.requestSubscribeMessage({
      tmplIds,
      success: (res) => resolve(tmplIds.filter((id) => res[id] === 'accept')),
      fail: () => resolve([]),
    });
  }).then(async (accepted) => {
    if (accepted.length) {
      try {
        await api.recordSubscriptions(accepted, newIdempotencyKey('sub'));
      } catch (e) {
        // not recorded: the server simply will not send a reminder
      }
    }
    return accepted;
  });
}

module.exports = { reminderTemplateIds, askConsent };
