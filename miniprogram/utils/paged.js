// The cursor-paged list behaviour shared by list pages (catalog, orders, wallet):
// pull-down refresh, load more at the bottom, one request at a time, errors shown as text.
// `fetchPage(reset)` runs with the page as `this`: it requests one page (from the start
// when `reset`) and stores it, setting `hasMore`; everything around it lives here.
const fmt = require('./format.js');

function pagedMethods(fetchPage) {
  return {
    onPullDownRefresh() {
      return this.load(true).then(() => wx.stopPullDownRefresh());
    },
    onReachBottom() {
      return this.data.hasMore ? this.load(false) : undefined;
    },
    loadMore() {
      return this.load(false);
    },
    async load(reset) {
      if (this.data.loading) return;
      this.setData({ loading: true, error: '' });
      try {
        await fetchPage.call(this, reset);
      } catch (e) {
        this.setData({ error: fmt.errorText(e) });
      } finally {
        this.setData({ loading: false });
      }
    },
  };
}

module.exports = { pagedMethods };
