// Checkout: quantity, coupon, balance or WeChat Pay. The order is created with
// an Idempotency-Key tied to what is being bought, so a retry of the same
// purchase (network error, payment cancelled) never makes a second order; the
// server's refusal is shown as it says it, next to the field at fault.
const { api, newIdempotencyKey } = require('../../utils/api.js');
const { reminderTemplateIds, askConsent } = require('../../utils/subscribe.js');
const fmt = require('../../utils/format.js');

/** What a coupon would take off `amount` (an estimate: the server prices the order). */
function couponOff(terms, amount) {
  if (!terms || amount < (terms.min_amount_fen || 0)) return 0;
  if (terms.kind === 'percent') {
    const off = Math.floor((amount * (terms.percent_off_bps || 0)) / 10000);
    return terms.max_off_fen ? Math.min(off, terms.max_off_fen) : off;
  }
  return Math.min(terms.amount_off_fen || 0, amount);
}

Component({
  data: {
    skuId: '',
    sku: null,
    quantity: 1,
    coupons: [],
    couponId: '',
    payment: 'balance',
    subtotalText: '',
    discountText: '',
    totalText: '',
    submitting: false,
    error: '',
    errorField: '',
    notice: '',
  },
  methods: {
    async onLoad(query) {
      this.orderKey = null;
      this.orderKeyFor = '';
      this.askedConsent = false;
      this.tmplIds = [];
      const skuId = (query && query.sku) || '';
      this.setData({ skuId });
      try {
        const [res, coupons, tmplIds] = await Promise.all([api.sku(skuId), api.coupons({ state: 'available', limit: 50 }), reminderTemplateIds()]);
        this.tmplIds = tmplIds;
        const s = res.sku;
        this.setData({
          sku: { id: s.id, name: `${res.product.name} · ${s.name}`, priceFen: s.price_fen, priceText: fmt.yuan(s.price_fen), min: s.min_per_order, max: s.max_per_order },
          quantity: s.min_per_order || 1,
          coupons: coupons.data.map((c) => ({ id: c.id, name: c.terms.name, terms: c.terms, until: fmt.date(c.valid_until) })),
        });
        this.reprice();
      } catch (e) {
        this.setData({ error: fmt.errorText(e) });
      }
    },
    reprice() {
      const sku = this.data.sku;
      if (!sku) return;
      const subtotal = sku.priceFen * this.data.quantity;
      const coupon = this.data.coupons.find((c) => c.id === this.data.couponId);
      const off = coupon ? couponOff(coupon.terms, subtotal) : 0;
      this.setData({ subtotalText: fmt.yuan(subtotal), discountText: off ? `-${fmt.yuan(off)}` : '', totalText: fmt.yuan(subtotal - off) });
    },
    setQuantity(n) {
      const sku = this.data.sku;
      const q = Math.max(sku ? sku.min : 1, Math.min(sku ? sku.max : 1000, Math.floor(Number(n) || 0)));
      this.setData({ quantity: q, errorField: this.data.errorField === 'quantity' ? '' : this.data.errorField });
      this.reprice();
    },
    inc() {
      this.setQuantity(this.data.quantity + 1);
    },
    dec() {
      this.setQuantity(this.data.quantity - 1);
    },
    onQuantity(e) {
      this.setQuantity(e.detail.value);
    },
    chooseCoupon(e) {
      const id = e.currentTarget.dataset.id || '';
      this.setData({ couponId: id === this.data.couponId ? '' : id });
      this.reprice();
    },
    choosePayment(e) {
      this.setData({ payment: e.currentTarget.dataset.payment });
    },
    /** The same key for the same purchase; a changed purchase is a new one. */
    keyFor(body) {
      const what = JSON.stringify(body);
      if (!this.orderKey || this.orderKeyFor !== what) {
        this.orderKey = newIdempotencyKey('order');
        this.orderKeyFor = what;
      }
      return this.orderKey;
    },
    async submit() {
      if (this.data.submitting || !this.data.sku) return;
      this.setData({ submitting: true, error: '', errorField: '', notice: '' });
      // Asked once per visit, from the tap (WeChat only shows the dialog for a user action).
      if (!this.askedConsent) {
        this.askedConsent = true;
        await askConsent(this.tmplIds);
      }
      const body = { sku_id: this.data.skuId, quantity: this.data.quantity, payment: this.data.payment };
      if (this.data.couponId) body.coupon_id = this.data.couponId;
      try {
        const res = await api.createOrder(body, this.keyFor(body));
        const order = res.order;
        if (order.status === 'held_for_review') {
          this.setData({ notice: '订单正在审核，审核通过后自动发货' });
          return;
        }
        if (res.payment && res.payment.client_params) {
          const paid = await this.pay(res.payment.client_params);
          if (!paid) return;
        }
        wx.redirectTo({ url: `/pages/order/index?id=${order.id}` });
      } catch (e) {
        this.setData({ error: fmt.errorText(e), errorField: (e && e.field) || '' });
      } finally {
        this.setData({ submitting: false });
      }
    },
    /** wx.requestPayment with the server-signed parameters; false when not paid (the same key retries). */
    pay(params) {
      return new Promise((resolve) => {
        wx.requestPayment(
          Object.assign({}, params, {
            success: () => resolve(true),
            fail: (err) => {
              const cancelled = err && /cancel/.test(err.errMsg || '');
              this.setData({ error: cancelled ? '支付已取消，可再次点击支付' : `支付失败：${(err && err.errMsg) || ''}`, errorField: 'payment' });
              resolve(false);
            },
          }),
        );
      });
    },
  },
});
