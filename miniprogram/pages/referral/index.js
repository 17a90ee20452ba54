// My referral code: the code, a QR code of its link and the share poster
// (both as images the server draws); copy the code, preview the poster, or
// share a card that carries the code to a friend.
const { partnerApi } = require('../../utils/api-partner.js');
const fmt = require('../../utils/format.js');

Component({
  data: { code: '', link: '', rewarded: 0, qr: '', poster: '', loading: true, error: '' },
  methods: {
    async onLoad() {
      try {
        const r = await partnerApi.referral();
        this.setData({ code: r.code, link: r.link, rewarded: r.rewarded_count, qr: r.qr_png, poster: r.poster_svg });
      } catch (e) {
        this.setData({ error: fmt.errorText(e) });
      } finally {
        this.setData({ loading: false });
      }
    },
    copyCode() {
      if (this.data.code) wx.setClipboardData({ data: this.data.code });
    },
    previewPoster() {
      if (this.data.poster) wx.previewImage({ urls: [this.data.poster], current: this.data.poster });
    },
    /** The share card opens the store with my code, so the friend's first order can be credited to me. */
    onShareAppMessage() {
      if (!this.data.code) return { title: '卡券商城', path: '/pages/index/index' };
      return { title: `送你一份新人礼，邀请码 ${this.data.code}`, path: `/pages/index/index?ref=${this.data.code}` };
    },
  },
});
