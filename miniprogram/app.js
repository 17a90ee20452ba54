// The mini-program: logs the customer in on launch (wx.login -> POST /mp/v1/login)
// so the first page's requests already carry a session; pages also log in on
// demand through utils/api.js, so a failed launch login is not fatal.
const session = require('./utils/session.js');

App({
  globalData: {},
  onLaunch() {
    session.ensureLogin().catch(() => {
      // offline or the server is down: the first page shows the error and retries
    });
  },
});
