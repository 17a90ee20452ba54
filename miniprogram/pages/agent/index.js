// Agent centre for group leaders: a customer who is also an agent links the
// account once with a code from the agent back office; then sees commission
// (today, month, pending, available), the team and the commissions, and
// withdraws available commission to the WeChat account it is logged in with.
const { partnerApi, newIdempotencyKey } = require('../../utils/api-partner.js');
const fmt = require('../../utils/format.js');

const COMMISSION_STATUS = { pending: '待结算', available: '可提现', settled: '已结算', reversed: '已冲回' };
const WITHDRAWAL_STATUS = { requested: '审核中', awaiting_second_approval: '审核中', approved: '待打款', paid: '已打款', rejected: '已驳回' };

/** The field at fault: the first of a details list, or details.field (INSUFFICIENT_FUNDS names it so). */
function fieldOf(e) {
  if (!e) return '';
  return e.field || (e.details && !Array.isArray(e.details) && e.details.field) || '';
}

/** '12.5' -> 1250 fen; null when it is not an amount with at most 2 decimals. */
function toFen(text) {
  const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(String(text || '').trim());
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'));
}

Component({
  data: {
    linked: null,
    linkCode: '',
    summary: null,
    team: [],
    teamCursor: null,
    commissions: [],
    commissionsCursor: null,
    amount: '',
    withdrawal: null,
    busy: false,
    error: '',
    errorField: '',
  },
  methods: {
    async onLoad() {
      this.withdrawKey = null;
      await this.refresh();
    },
    /** The summary says whether this account is linked (403 NOT_LINKED: show the link form). */
    async refresh() {
      try {
        const s = await partnerApi.agentSummary();
        this.setData({
          linked: true,
          summary: {
            name: s.agent.name,
            today: fmt.yuan(s.commission_today_fen),
            month: fmt.yuan(s.commission_month_fen),
            pending: fmt.yuan(s.commission_pending_fen),
            available: fmt.yuan(s.commission_available_fen),
            availableFen: s.commission_available_fen,
            teamSize: s.team_size,
          },
        });
        await Promise.all([this.loadTeam(true), this.loadCommissions(true)]);
      } catch (e) {
        if (e && e.status === 403 && e.details && e.details.reason === 'NOT_LINKED') this.setData({ linked: false });
        else this.setData({ error: fmt.errorText(e) });
      }
    },
    onLinkCode(e) {
      this.setData({ linkCode: e.detail.value });
    },
    async link() {
      if (this.data.busy) return;
      this.setData({ busy: true, error: '', errorField: '' });
      try {
        await partnerApi.linkAgent(this.data.linkCode.trim());
        this.setData({ linkCode: '' });
        await this.refresh();
      } catch (e) {
        this.setData({ error: fmt.errorText(e), errorField: fieldOf(e) });
      } finally {
        this.setData({ busy: false });
      }
    },
    async loadTeam(first) {
      const page = await partnerApi.agentTeam({ limit: 20, cursor: first ? undefined : this.data.teamCursor });
      const rows = page.data.map((m) => ({ id: m.id, name: m.name, role: m.role, depth: m.depth, sales: fmt.yuan(m.month_sales_fen) }));
      this.setData({ team: first ? rows : this.data.team.concat(rows), teamCursor: page.next_cursor });
    },
    async loadCommissions(first) {
      const page = await partnerApi.agentCommissions({ limit: 20, cursor: first ? undefined : this.data.commissionsCursor });
      const rows = page.data.map((c) => ({ id: c.id, amount: fmt.yuan(c.amount_fen - c.reversed_fen), status: COMMISSION_STATUS[c.status] || c.status, at: fmt.dateTime(c.created_at), level: c.level }));
      this.setData({ commissions: first ? rows : this.data.commissions.concat(rows), commissionsCursor: page.next_cursor });
    },
    moreTeam() {
      return this.data.teamCursor ? this.loadTeam(false) : undefined;
    },
    moreCommissions() {
      return this.data.commissionsCursor ? this.loadCommissions(false) : undefined;
    },
    onAmount(e) {
      // Another amount is another withdrawal: a new key.
      this.withdrawKey = null;
      this.setData({ amount: e.detail.value, errorField: '' });
    },
    async withdraw() {
      if (this.data.busy) return;
      const amountFen = toFen(this.data.amount);
      if (!amountFen) {
        this.setData({ error: '请输入提现金额（元）', errorField: 'amount_fen' });
        return;
      }
      this.setData({ busy: true, error: '', errorField: '' });
      this.withdrawKey = this.withdrawKey || newIdempotencyKey('wd');
      try {
        const w = await partnerApi.withdraw({ amount_fen: amountFen, method: 'wechat_transfer' }, this.withdrawKey);
        this.withdrawKey = null;
        this.setData({ amount: '', withdrawal: { id: w.id, amount: fmt.yuan(w.amount_fen), fee: fmt.yuan(w.fee_fen), net: fmt.yuan(w.net_fen), status: WITHDRAWAL_STATUS[w.status] || w.status } });
        await this.refresh();
      } catch (e) {
        this.setData({ error: fmt.errorText(e), errorField: fieldOf(e) });
      } finally {
        this.setData({ busy: false });
      }
    },
  },
});
