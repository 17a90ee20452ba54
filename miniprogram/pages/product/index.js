// SKU detail: what the customer gets, its price and how to use it; a running
// group-buy campaign of the SKU shows as a link to the group-buy page.
const { api } = require('../../utils/api.js');
const { partnerApi } = require('../../utils/api-partner.js');
const fmt = require('../../utils/format.js');

Component({
  data: { skuId: '', sku: null, product: null, groupBuy: null, error: '', loading: true },
  methods: {
    async onLoad(query) {
      const skuId = (query && query.sku) || '';
      this.setData({ skuId });
      try {
        const res = await api.sku(skuId);
        const s = res.sku;
        this.setData({
          sku: {
            id: s.id,
            name: s.name,
            priceText: fmt.yuan(s.price_fen),
            faceText: fmt.yuan(s.face_value_fen),
            validity: s.validity_days ? `购买后 ${s.validity_days} 天内有效` : '',
            usage: s.usage_instructions,
            oneTap: s.one_tap_activation,
            limits: s.max_per_order > 1 ? `每单 ${s.min_per_order}-${s.max_per_order} 件` : '',
          },
          product: res.product,
        });
        wx.setNavigationBarTitle({ title: res.product.name });
        await this.loadGroupBuy();
      } catch (e) {
        this.setData({ error: fmt.errorText(e) });
      } finally {
        this.setData({ loading: false });
      }
    },
    /** The best running campaign of this SKU, if any; the page works the same without it. */
    async loadGroupBuy() {
      try {
        const page = await partnerApi.groupBuys(this.data.skuId, { limit: 20 });
        const best = page.data.slice().sort((a, b) => a.group_price_fen - b.group_price_fen)[0];
        this.setData({ groupBuy: best ? { priceText: fmt.yuan(best.group_price_fen), size: best.group_size } : null });
      } catch (e) {
        this.setData({ groupBuy: null });
      }
    },
    groupBuy() {
      wx.navigateTo({ url: `/pages/group-buy/index?sku=${this.data.skuId}` });
    },
    buy() {
      wx.navigateTo({ url: `/pages/checkout/index?sku=${this.data.skuId}` });
    },
    onShareAppMessage() {
      const name = this.data.product ? this.data.product.name : '';
      return { title: name, path: `/pages/product/index?sku=${this.data.skuId}` };
    },
  },
});
