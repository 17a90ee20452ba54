// After-sales (售后): "this code does not work" for codes of an order, with a
// description and evidence links; below, my tickets and their status.
const { api, newIdempotencyKey } = require('../../utils/api.js');
const fmt = require('../../utils/format.js');

const ticketView = (t) => ({ id: t.id, orderId: t.order_id, statusText: fmt.ticketStatus(t.status), status: t.status, description: t.description, createdText: fmt.dateTime(t.created_at), note: t.decision_note || '' });

Component({
  data: { orderId: '', codeIds: [], description: '', evidence: '', submitting: false, submitted: null, tickets: [], detail: null, error: '', errorField: '' },
  methods: {
    async onLoad(query) {
      const q = query || {};
      this.ticketKey = null;
      this.setData({ orderId: q.order || '', codeIds: q.codes ? q.codes.split(',').filter(Boolean) : [] });
      await this.loadTickets();
    },
    async loadTickets() {
      try {
        const page = await api.tickets({ limit: 20 });
        this.setData({ tickets: page.data.map(ticketView) });
      } catch (e) {
        this.setData({ error: fmt.errorText(e) });
      }
    },
    onDescription(e) {
      this.setData({ description: e.detail.value });
    },
    onEvidence(e) {
      this.setData({ evidence: e.detail.value });
    },
    async submit() {
      if (this.data.submitting) return;
      this.setData({ submitting: true, error: '', errorField: '' });
      try {
        let codeIds = this.data.codeIds;
        // Opened from an order without revealed codes: the order's codes (a ticket needs them revealed anyway).
        if (!codeIds.length) {
          codeIds = (await api.revealOrder(this.data.orderId)).codes.map((c) => c.code_id);
          this.setData({ codeIds });
        }
        // Opened from the wallet for a code received as a gift: the codes name the order (the giver's, not shown to us).
        const body = { code_ids: codeIds, description: this.data.description.trim() };
        if (this.data.orderId) body.order_id = this.data.orderId;
        if (this.data.evidence.trim()) body.evidence_urls = [this.data.evidence.trim()];
        this.ticketKey = this.ticketKey || newIdempotencyKey('ticket');
        const t = await api.openTicket(body, this.ticketKey);
        this.ticketKey = null;
        this.setData({ submitted: ticketView(t), description: '', evidence: '' });
        await this.loadTickets();
      } catch (e) {
        // A refusal wrote nothing: the corrected request is a new one.
        if (e && e.status >= 400 && e.status < 500) this.ticketKey = null;
        this.setData({ error: fmt.errorText(e), errorField: (e && e.field) || '' });
      } finally {
        this.setData({ submitting: false });
      }
    },
    async open(e) {
      try {
        const t = await api.ticket(e.currentTarget.dataset.id);
        const history = (t.history || []).map((h) => ({ to: fmt.ticketStatus(h.to_status), at: fmt.dateTime(h.created_at), note: h.note || '' }));
        this.setData({ detail: Object.assign(ticketView(t), { history }) });
      } catch (err) {
        this.setData({ error: fmt.errorText(err) });
      }
    },
  },
});
