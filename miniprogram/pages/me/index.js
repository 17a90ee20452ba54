// Me: profile with the masked phone (getPhoneNumber), my coupons, coupons I
// can claim (a list, or one from a campaign link), the partner centres,
// after-sales, logout.
const { api, newIdempotencyKey } = require('../../utils/api.js');
const session = require('../../utils/session.js');
const fmt = require('../../utils/format.js');

const couponView = (c) => ({ id: c.id, name: c.terms.name, until: fmt.date(c.valid_until), valueText: c.terms.kind === 'percent' ? `${(c.terms.percent_off_bps || 0) / 100}% off` : fmt.yuan(c.terms.amount_off_fen || 0), minText: c.terms.min_amount_fen ? `满 ${fmt.yuan(c.terms.min_amount_fen)} 可用` : '' });

const valueText = (t) => (t.kind === 'percent' ? `${(t.percent_off_bps || 0) / 100}% off` : fmt.yuan(t.amount_off_fen || 0));
const claimableView = (t) => ({ id: t.id, name: t.name, valueText: valueText(t), minText: t.min_amount_fen ? `满 ${fmt.yuan(t.min_amount_fen)} 可用` : '', validText: t.valid_days ? `领取后 ${t.valid_days} 天内有效` : t.valid_until ? `有效期至 ${fmt.date(t.valid_until)}` : '' });

Component({
  data: { me: null, phone: '', coupons: [], claimable: [], claiming: '', claimTemplateId: '', claimed: false, notice: '', error: '' },
  methods: {
    onLoad(query) {
      this.claimKey = null;
      // One key per template claimed from the list, kept for a retry until the server answers.
      this.listKeys = {};
      // A campaign link opens me/index?coupon=cpt_… to claim that coupon.
      this.setData({ claimTemplateId: (query && query.coupon) || '' });
    },
    async onShow() {
      try {
        const [me, coupons, claimable] = await Promise.all([api.me(), api.coupons({ state: 'available', limit: 50 }), api.claimableCoupons({ limit: 20 })]);
        this.setData({ me: { id: me.id, name: me.display_name }, phone: me.phone || '', coupons: coupons.data.map(couponView), claimable: claimable.data.map(claimableView) });
      } catch (e) {
        this.setData({ error: fmt.errorText(e) });
      }
    },
    /** <button open-type="getPhoneNumber">: the code goes to the server, which answers the number masked. */
    async onPhone(e) {
      const code = e && e.detail && e.detail.code;
      if (!code) {
        this.setData({ error: '未授权手机号' });
        return;
      }
      try {
        const res = await api.setPhone(code);
        session.rememberPhone(res.phone);
        this.setData({ phone: res.phone, error: '' });
      } catch (err) {
        this.setData({ error: fmt.errorText(err) });
      }
    },
    async claimCoupon() {
      const templateId = this.data.claimTemplateId;
      if (!templateId) return;
      this.claimKey = this.claimKey || newIdempotencyKey('coupon');
      try {
        await api.claimCoupon(templateId, this.claimKey);
        this.setData({ claimed: true, error: '' });
        await this.refreshCoupons();
      } catch (e) {
        if (e && e.status >= 400 && e.status < 500) this.claimKey = null;
        this.setData({ error: fmt.errorText(e) });
      }
    },
    /** Claim one from the "coupons to claim" list; both lists are read again after. */
    async claimFromList(e) {
      const templateId = e.currentTarget.dataset.id;
      if (!templateId || this.data.claiming) return;
      this.listKeys[templateId] = this.listKeys[templateId] || newIdempotencyKey('coupon');
      this.setData({ claiming: templateId, error: '', notice: '' });
      try {
        await api.claimCoupon(templateId, this.listKeys[templateId]);
        delete this.listKeys[templateId];
        this.setData({ notice: '领取成功' });
        await this.refreshCoupons();
      } catch (err) {
        if (err && err.status >= 400 && err.status < 500) delete this.listKeys[templateId];
        this.setData({ error: fmt.errorText(err) });
      } finally {
        this.setData({ claiming: '' });
      }
    },
    async refreshCoupons() {
      const [coupons, claimable] = await Promise.all([api.coupons({ state: 'available', limit: 50 }), api.claimableCoupons({ limit: 20 })]);
      this.setData({ coupons: coupons.data.map(couponView), claimable: claimable.data.map(claimableView) });
    },
    go(e) {
      const url = e.currentTarget.dataset.url;
      if (/^\/pages\/(index|orders|wallet|me)\//.test(url)) wx.switchTab({ url });
      else wx.navigateTo({ url });
    },
    async logout() {
      try {
        await api.logout();
      } catch (e) {
        // the token is forgotten here anyway
      }
      session.clear();
      wx.reLaunch({ url: '/pages/index/index' });
    },
  },
});
