// One order: tap to reveal its codes (the secret is shown on this screen only,
// never stored), copy one to the clipboard, or report one that does not work.
// An order paid while sold out offers the choice: keep waiting or refund.
const { api } = require('../../utils/api.js');
const { partnerApi, newIdempotencyKey } = require('../../utils/api-partner.js');
const fmt = require('../../utils/format.js');

const orderView = (o) => ({
  id: o.id, statusText: fmt.orderStatus(o.status), status: o.status, quantity: o.quantity, amountText: fmt.yuan(o.amount_fen), discountText: o.discount_fen ? fmt.yuan(o.discount_fen) : '',
  refundedText: o.refunded_fen ? fmt.yuan(o.refunded_fen) : '', createdText: fmt.dateTime(o.created_at), delivered: o.delivered_quantity > 0, awaitingStock: o.status === 'paid_awaiting_stock',
  // The choice the server recorded: once "keep waiting" is chosen the page does not offer it again (also on a later visit).
  waitChosen: o.awaiting_choice === 'wait',
});

Component({
  data: { id: '', order: null, codes: [], usage: '', revealing: false, choosing: '', waitChosen: false, notice: '', error: '' },
  methods: {
    async onLoad(query) {
      const id = (query && query.id) || '';
      // One key per choice, kept until the server answers it: a retry after a network error is the same choice.
      this.choiceKeys = {};
      this.setData({ id });
      await this.load();
    },
    async load() {
      try {
        this.setData({ order: orderView(await api.order(this.data.id)) });
      } catch (e) {
        this.setData({ error: fmt.errorText(e) });
      }
    },
    /** data-choice 'wait' | 'refund' (to the balance, after a confirmation); then the order is read again. */
    async choose(e) {
      const choice = e.currentTarget.dataset.choice;
      if (this.data.choosing || (choice !== 'wait' && choice !== 'refund')) return;
      if (choice === 'refund') {
        const ok = await new Promise((resolve) => wx.showModal({ title: '申请退款', content: '货款将退回到您的余额', success: (r) => resolve(Boolean(r.confirm)), fail: () => resolve(false) }));
        if (!ok) return;
      }
      this.choiceKeys[choice] = this.choiceKeys[choice] || newIdempotencyKey(`choice-${choice}`);
      this.setData({ choosing: choice, error: '', notice: '' });
      try {
        await partnerApi.orderChoice(this.data.id, choice, this.choiceKeys[choice]);
        this.choiceKeys[choice] = null;
        this.setData(choice === 'wait' ? { waitChosen: true, notice: '已选择继续等待，补货后自动发货' } : { notice: '已退款到余额' });
        await this.load();
      } catch (err) {
        // The server refused this choice (e.g. no longer waiting): a new tap is a new request.
        if (err && err.status >= 400 && err.status < 500) this.choiceKeys[choice] = null;
        this.setData({ error: fmt.errorText(err) });
      } finally {
        this.setData({ choosing: '' });
      }
    },
    // The secrets leave the screen with the customer.
    onHide() {
      this.setData({ codes: [] });
    },
    onUnload() {
      this.setData({ codes: [] });
    },
    async reveal() {
      if (this.data.revealing) return;
      this.setData({ revealing: true, error: '' });
      try {
        const res = await api.revealOrder(this.data.id);
        this.setData({ codes: res.codes.map((c) => ({ codeId: c.code_id, cardNumber: c.card_number, secret: c.secret })), usage: res.usage_instructions });
      } catch (e) {
        this.setData({ error: fmt.errorText(e) });
      } finally {
        this.setData({ revealing: false });
      }
    },
    copy(e) {
      const code = this.data.codes[Number(e.currentTarget.dataset.index)];
      if (!code) return;
      wx.setClipboardData({ data: code.secret, success: () => wx.showToast({ title: '已复制', icon: 'success' }) });
    },
    afterSales() {
      const ids = this.data.codes.map((c) => c.codeId).join(',');
      wx.navigateTo({ url: `/pages/after-sales/index?order=${this.data.id}${ids ? `&codes=${ids}` : ''}` });
    },
  },
});
