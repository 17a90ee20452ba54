// Gift one unrevealed code: the server answers a single-use claim token; the
// customer shares the claim page (token in its path) with a friend through the
// share button. The gift can be cancelled until the friend claims it.
const { api, newIdempotencyKey } = require('../../utils/api.js');
const fmt = require('../../utils/format.js');

Component({
  data: { codeId: '', name: '', message: '', gift: null, creating: false, error: '' },
  methods: {
    onLoad(query) {
      const q = query || {};
      this.giftKey = null;
      this.token = null;
      this.setData({ codeId: q.code || '', name: q.name ? decodeURIComponent(q.name) : '', gift: q.gift ? { id: q.gift, status: 'pending', statusText: '等待好友领取', expiresText: '', cardText: '' } : null });
    },
    onMessage(e) {
      this.setData({ message: e.detail.value });
    },
    async create() {
      if (this.data.creating) return;
      this.setData({ creating: true, error: '' });
      // One key per gift attempt: a retry after a network error shows the same gift.
      this.giftKey = this.giftKey || newIdempotencyKey('gift');
      try {
        const body = this.data.message ? { message: this.data.message } : {};
        const g = await api.giftCode(this.data.codeId, body, this.giftKey);
        this.token = g.token;
        this.setData({ gift: { id: g.id, status: g.status, statusText: '等待好友领取', expiresText: fmt.dateTime(g.expires_at), cardText: g.card_text } });
        wx.showShareMenu({ withShareTicket: false });
      } catch (e) {
        this.giftKey = null;
        this.setData({ error: fmt.errorText(e) });
      } finally {
        this.setData({ creating: false });
      }
    },
    copyCard() {
      if (this.data.gift && this.data.gift.cardText) wx.setClipboardData({ data: this.data.gift.cardText });
    },
    async cancel() {
      const gift = this.data.gift;
      if (!gift) return;
      try {
        const g = await api.cancelGift(gift.id);
        this.token = null;
        this.setData({ gift: Object.assign({}, gift, { status: g.status, statusText: '已取消，卡券已回到卡包' }) });
      } catch (e) {
        this.setData({ error: fmt.errorText(e) });
      }
    },
    /** The share card: the claim page with the token, only while the gift is pending. */
    onShareAppMessage() {
      if (!this.token || !this.data.gift || this.data.gift.status !== 'pending') return { title: '卡券商城', path: '/pages/index/index' };
      return { title: `送你一张${this.data.name || '卡券'}`, path: `/pages/claim/index?token=${this.token}` };
    },
  },
});
