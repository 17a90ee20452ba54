// My orders, newest first, a page at a time (cursor pagination).
const { api } = require('../../utils/api.js');
const fmt = require('../../utils/format.js');
const { pagedMethods } = require('../../utils/paged.js');

const PAGE_SIZE = 10;
const view = (o) => ({ id: o.id, amountText: fmt.yuan(o.amount_fen), quantity: o.quantity, statusText: fmt.orderStatus(o.status), status: o.status, createdText: fmt.dateTime(o.created_at) });

Component({
  data: { orders: [], nextCursor: null, hasMore: false, loading: false, error: '' },
  methods: {
    // A tab page: refreshed each time it is shown (a new order may have been made meanwhile).
    onShow() {
      return this.load(true);
    },
    ...pagedMethods(async function (reset) {
      const page = await api.orders({ limit: PAGE_SIZE, cursor: reset ? undefined : this.data.nextCursor });
      const orders = (reset ? [] : this.data.orders).concat(page.data.map(view));
      this.setData({ orders, nextCursor: page.next_cursor, hasMore: Boolean(page.has_more && page.next_cursor) });
    }),
    open(e) {
      wx.navigateTo({ url: `/pages/order/index?id=${e.currentTarget.dataset.id}` });
    },
  },
});
