// The asset pack (资产包): every code the customer owns, grouped by state, with
// the count of each group, what is expiring soon, and per code: reveal, copy,
// one-tap activation link, usage instructions, gift, report (after-sales), and for codes a store
// accepts: a short-lived QR token to show at the store (with a countdown).
const { api } = require('../../utils/api.js');
const fmt = require('../../utils/format.js');
const { pagedMethods } = require('../../utils/paged.js');

const GROUP_ORDER = ['expiring_soon', 'ready', 'revealed', 'redeemed', 'expired'];
const pad2 = (n) => String(n).padStart(2, '0');
/** 299 -> '04:59' */
const countdown = (seconds) => `${pad2(Math.floor(seconds / 60))}:${pad2(seconds % 60)}`;

Component({
  data: { tab: '', groups: [], counts: {}, tabs: [], expiringSoon: 0, hasMore: false, loading: false, qr: null, error: '' },
  methods: {
    onLoad() {
      this.items = [];
      this.secrets = {};
      this.cursor = null;
    },
    onShow() {
      return this.load(true);
    },
    onHide() {
      // Revealed secrets and a shown QR token leave the screen with the customer.
      this.secrets = {};
      this.closeQr();
      this.render();
    },
    onUnload() {
      this.closeQr();
    },
    ...pagedMethods(async function (reset) {
      const page = await api.wallet({ limit: 20, state: this.data.tab || undefined, cursor: reset ? undefined : this.cursor });
      this.items = (reset ? [] : this.items).concat(page.data);
      this.cursor = page.next_cursor;
      const counts = page.counts || {};
      this.setData({
        counts,
        expiringSoon: counts.expiring_soon || 0,
        tabs: GROUP_ORDER.map((g) => ({ group: g, title: fmt.walletGroup(g), count: counts[g] || 0 })),
        hasMore: Boolean(page.has_more && page.next_cursor),
      });
      this.render();
    }),
    render() {
      const byGroup = {};
      for (const c of this.items || []) {
        const s = this.secrets[c.id];
        const item = {
          id: c.id,
          title: `${c.product_name} · ${c.sku_name}`,
          masked: c.secret_masked,
          expiresText: c.expires_at ? fmt.date(c.expires_at) : '',
          daysLeft: c.expires_at ? fmt.daysLeft(c.expires_at) : null,
          usage: c.usage_instructions,
          giftable: c.giftable,
          pendingGiftId: c.pending_gift ? c.pending_gift.id : '',
          canReveal: c.group === 'ready' || c.group === 'revealed' || c.group === 'expiring_soon',
          // A seen code that does not work is reported by whoever holds it now (a gift's receiver too).
          reportable: c.state === 'revealed',
          oneTap: Boolean(c.activation),
          atStore: Boolean(c.store_redeemable) && !c.pending_gift && (c.group === 'ready' || c.group === 'revealed' || c.group === 'expiring_soon'),
          secret: s ? s.secret : '',
          cardNumber: s ? s.cardNumber : '',
          activationUrl: s ? s.activationUrl : '',
        };
        (byGroup[c.group] = byGroup[c.group] || []).push(item);
      }
      const groups = GROUP_ORDER.filter((g) => byGroup[g]).map((g) => ({ group: g, title: fmt.walletGroup(g), count: (this.data.counts || {})[g] || byGroup[g].length, items: byGroup[g] }));
      this.setData({ groups });
    },
    switchTab(e) {
      const tab = e.currentTarget.dataset.group || '';
      this.setData({ tab: tab === this.data.tab ? '' : tab });
      return this.load(true);
    },
    async reveal(e) {
      const id = e.currentTarget.dataset.id;
      try {
        const r = await api.revealCode(id);
        this.secrets[id] = { secret: r.secret, cardNumber: r.card_number, activationUrl: r.activation_url };
        const item = this.items.find((c) => c.id === id);
        // Revealed now: no longer giftable (the server agrees on the next load).
        if (item && item.group === 'ready') Object.assign(item, { group: 'revealed', giftable: false });
        this.render();
      } catch (err) {
        this.setData({ error: fmt.errorText(err) });
      }
    },
    copy(e) {
      const s = this.secrets[e.currentTarget.dataset.id];
      if (s) wx.setClipboardData({ data: s.secret });
    },
    /** The brand's redemption page with the code filled in: copied, to open in the browser. */
    activate(e) {
      const s = this.secrets[e.currentTarget.dataset.id];
      if (s && s.activationUrl) wx.setClipboardData({ data: s.activationUrl, success: () => wx.showToast({ title: '激活链接已复制', icon: 'none' }) });
    },
    /** "Show at the store": a token (valid a few minutes, works once) as a QR image, counted down by the phone. */
    async showQr(e) {
      const id = e.currentTarget.dataset.id;
      this.closeQr();
      try {
        const r = await api.redemptionQrToken(id);
        // The server says how long it lasts; the phone's own clock may be off, so count from receipt.
        this.qrDeadline = Date.now() + r.expires_in_seconds * 1000;
        this.setData({ qr: { codeId: id, png: r.qr_png, token: r.token, secondsLeft: r.expires_in_seconds, countdownText: countdown(r.expires_in_seconds), expired: false }, error: '' });
        this.qrTimer = setInterval(() => this.tickQr(), 1000);
      } catch (err) {
        this.setData({ error: fmt.errorText(err) });
      }
    },
    tickQr() {
      const qr = this.data.qr;
      if (!qr || qr.expired) return;
      const left = Math.max(0, Math.ceil((this.qrDeadline - Date.now()) / 1000));
      if (left > 0) {
        this.setData({ qr: Object.assign({}, qr, { secondsLeft: left, countdownText: countdown(left) }) });
        return;
      }
      // Expired: the image goes (a store would refuse it anyway); one tap fetches a new one.
      this.stopQrTimer();
      this.setData({ qr: { codeId: qr.codeId, png: '', token: '', secondsLeft: 0, countdownText: countdown(0), expired: true } });
    },
    refreshQr() {
      const qr = this.data.qr;
      return qr ? this.showQr({ currentTarget: { dataset: { id: qr.codeId } } }) : undefined;
    },
    stopQrTimer() {
      if (this.qrTimer) clearInterval(this.qrTimer);
      this.qrTimer = null;
    },
    closeQr() {
      this.stopQrTimer();
      if (this.data.qr) this.setData({ qr: null });
    },
    /** After-sales for one code; a gift's receiver has no order id (the server finds it from the code). */
    report(e) {
      const id = e.currentTarget.dataset.id;
      const c = this.items.find((x) => x.id === id);
      wx.navigateTo({ url: `/pages/after-sales/index?codes=${id}${c && c.order_id ? `&order=${c.order_id}` : ''}` });
    },
    gift(e) {
      const id = e.currentTarget.dataset.id;
      const c = this.items.find((x) => x.id === id);
      const name = c ? encodeURIComponent(`${c.product_name} · ${c.sku_name}`) : '';
      const pending = c && c.pending_gift ? `&gift=${c.pending_gift.id}` : '';
      wx.navigateTo({ url: `/pages/gift/index?code=${id}&name=${name}${pending}` });
    },
  },
});
