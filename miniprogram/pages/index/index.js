// Home and catalog: products on sale with their SKUs and the customer's price.
const { api } = require('../../utils/api.js');
const fmt = require('../../utils/format.js');
const { pagedMethods } = require('../../utils/paged.js');

const view = (p) => ({
  id: p.id,
  name: p.name,
  brand: p.brand,
  description: p.description,
  skus: p.skus.map((s) => ({ id: s.id, name: s.name, priceText: fmt.yuan(s.price_fen), faceText: fmt.yuan(s.face_value_fen) })),
});

Component({
  data: { products: [], nextCursor: null, hasMore: false, loading: false, error: '' },
  methods: {
    onLoad() {
      return this.load(true);
    },
    ...pagedMethods(async function (reset) {
      const page = await api.catalog({ limit: 20, cursor: reset ? undefined : this.data.nextCursor });
      const products = (reset ? [] : this.data.products).concat(page.data.map(view));
      this.setData({ products, nextCursor: page.next_cursor, hasMore: Boolean(page.has_more && page.next_cursor) });
    }),
    openSku(e) {
      wx.navigateTo({ url: `/pages/product/index?sku=${e.currentTarget.dataset.sku}` });
    },
    onShareAppMessage() {
      return { title: '卡券商城', path: '/pages/index/index' };
    },
  },
});
