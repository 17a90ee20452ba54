// Group buying (拼团): the campaigns running for a SKU and their open groups;
// open a group (first seat) or join one, paid from the balance or with
// WeChat Pay; share the group so friends can fill it. A shared card opens this
// page with ?group=<id>.
const { partnerApi, newIdempotencyKey } = require('../../utils/api-partner.js');
const fmt = require('../../utils/format.js');

const STATUS = { open: '拼团中', completed: '已成团', failed: '未成团，已退款' };

function groupView(g) {
  return {
    id: g.id,
    campaignId: g.campaign_id,
    name: g.name,
    priceText: fmt.yuan(g.group_price_fen),
    seatsText: `${g.seats_taken}/${g.group_size}`,
    seatsLeft: g.seats_left,
    status: g.status,
    statusText: STATUS[g.status] || g.status,
    expiresText: fmt.dateTime(g.expires_at),
    members: g.members.map((m) => ({ name: m.name, leader: m.is_leader, paid: m.paid })),
  };
}

Component({
  data: { skuId: '', campaigns: [], groups: [], group: null, payment: 'balance', busy: false, notice: '', error: '' },
  methods: {
    async onLoad(query) {
      const q = query || {};
      // One key per seat attempt: a retry (network error, payment cancelled) answers the same seat.
      this.keys = {};
      this.setData({ skuId: q.sku || '' });
      if (q.group) await this.loadGroup(q.group);
      if (q.sku) await this.loadCampaigns();
    },
    async loadCampaigns() {
      try {
        const page = await partnerApi.groupBuys(this.data.skuId, { limit: 20 });
        const campaigns = page.data.map((c) => ({ id: c.id, name: c.name, priceText: fmt.yuan(c.group_price_fen), size: c.group_size, endsText: fmt.dateTime(c.ends_at) }));
        this.setData({ campaigns });
        const groups = [];
        for (const c of campaigns) {
          const open = await partnerApi.openGroups(c.id, { limit: 10 });
          for (const g of open.data) groups.push(groupView(g));
        }
        this.setData({ groups });
      } catch (e) {
        this.setData({ error: fmt.errorText(e) });
      }
    },
    async loadGroup(groupId) {
      try {
        this.setData({ group: groupView(await partnerApi.group(groupId)) });
      } catch (e) {
        this.setData({ error: fmt.errorText(e) });
      }
    },
    choosePayment(e) {
      this.setData({ payment: e.currentTarget.dataset.payment === 'wechat' ? 'wechat' : 'balance' });
    },
    /** Pays a WeChat seat with the server-signed parameters; a cancelled payment keeps the seat until its deadline. */
    pay(payment) {
      return new Promise((resolve) => {
        wx.requestPayment(Object.assign({}, payment.client_params, { success: () => resolve(true), fail: () => resolve(false) }));
      });
    },
    async takeSeat(action, id, call) {
      if (this.data.busy) return;
      this.setData({ busy: true, error: '', notice: '' });
      const slot = `${action}:${id}:${this.data.payment}`;
      this.keys[slot] = this.keys[slot] || newIdempotencyKey(action);
      try {
        const res = await call(this.keys[slot]);
        if (res.payment && !(await this.pay(res.payment))) {
          this.setData({ notice: '支付未完成，可在订单中继续支付' });
        } else {
          delete this.keys[slot];
          this.setData({ notice: res.group.status === 'completed' ? '拼团成功！卡券已放入卡包' : '已参团，邀请好友一起拼' });
        }
        this.setData({ group: groupView(res.group) });
        if (this.data.skuId) await this.loadCampaigns();
        wx.showShareMenu({ withShareTicket: false });
      } catch (e) {
        this.setData({ error: fmt.errorText(e) });
      } finally {
        this.setData({ busy: false });
      }
    },
    open(e) {
      const campaignId = e.currentTarget.dataset.id;
      return this.takeSeat('open', campaignId, (key) => partnerApi.openGroup(campaignId, this.data.payment, key));
    },
    join(e) {
      const groupId = e.currentTarget.dataset.id;
      return this.takeSeat('join', groupId, (key) => partnerApi.joinGroup(groupId, this.data.payment, key));
    },
    /** The share card opens this page on the group (only while it has seats left). */
    onShareAppMessage() {
      const g = this.data.group;
      if (!g || g.status !== 'open') return { title: '一起拼团更优惠', path: this.data.skuId ? `/pages/group-buy/index?sku=${this.data.skuId}` : '/pages/index/index' };
      return { title: `还差${g.seatsLeft}人成团：${g.name} ${g.priceText}`, path: `/pages/group-buy/index?group=${g.id}` };
    },
  },
});
