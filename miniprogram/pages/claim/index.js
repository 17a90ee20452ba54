// A friend opened a gift card: the token comes in the page query; claiming
// moves the code into their own asset pack (of racing claimers one wins).
const { api } = require('../../utils/api.js');
const fmt = require('../../utils/format.js');

Component({
  data: { token: '', claimed: false, claiming: false, error: '' },
  methods: {
    onLoad(query) {
      const token = (query && query.token) || '';
      this.setData({ token, error: token ? '' : '礼物链接无效' });
    },
    async claim() {
      if (this.data.claiming || !this.data.token) return;
      this.setData({ claiming: true, error: '' });
      try {
        await api.claimGift(this.data.token);
        this.setData({ claimed: true });
      } catch (e) {
        this.setData({ error: fmt.errorText(e) });
      } finally {
        this.setData({ claiming: false });
      }
    },
    toWallet() {
      wx.switchTab({ url: '/pages/wallet/index' });
    },
  },
});
