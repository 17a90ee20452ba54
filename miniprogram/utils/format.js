// Display helpers: money is integer fen on the wire and ¥ only on screen.

/** 9600 -> '¥96.00'; negative amounts keep their sign. */
function yuan(fen) {
  const n = Number(fen) || 0;
  const sign = n < 0 ? '-' : '';
  const abs = Math.abs(Math.round(n));
  const whole = Math.floor(abs / 100);
  const cents = String(abs % 100).padStart(2, '0');
  return `${sign}¥${whole}.${cents}`;
}

const pad = (n) => String(n).padStart(2, '0');

/** ISO timestamp -> '2026-03-01 14:05' in the phone's local time; '' for null. */
function dateTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** ISO timestamp -> '2026-03-01'. */
function date(iso) {
  return dateTime(iso).slice(0, 10);
}

/** Whole days from now until iso (0 when already past). */
function daysLeft(iso, now) {
  if (!iso) return null;
  const ms = new Date(iso).getTime() - (now || Date.now());
  return ms <= 0 ? 0 : Math.ceil(ms / 86400000);
}

/** Keeps the last `keep` characters: 'ABCD1234' -> '****1234'. */
function mask(secret, keep) {
  const s = String(secret || '');
  const k = keep === undefined ? 4 : keep;
  if (s.length <= k) return '*'.repeat(s.length);
  return '*'.repeat(Math.min(8, s.length - k)) + s.slice(-k);
}

/** 13812341234 -> 138****1234 (already masked numbers pass through). */
function maskPhone(phone) {
  const s = String(phone || '');
  if (s.includes('*') || s.length < 7) return s;
  return `${s.slice(0, 3)}****${s.slice(-4)}`;
}

const ORDER_STATUS = {
  pending_payment: '待支付',
  held_for_review: '审核中',
  paid: '已支付',
  paid_awaiting_stock: '等待补货',
  awaiting_group: '拼团中',
  fulfilling: '发货中',
  delivered: '已发货',
  partially_delivered: '部分发货',
  cancelled: '已取消',
  refunded: '已退款',
  partially_refunded: '部分退款',
  failed: '失败',
};
function orderStatus(s) {
  return ORDER_STATUS[s] || s;
}

const WALLET_GROUP = { ready: '未使用', revealed: '已查看', redeemed: '已核销', expiring_soon: '即将过期', expired: '已过期' };
function walletGroup(g) {
  return WALLET_GROUP[g] || g;
}

const TICKET_STATUS = { open: '已提交', in_review: '处理中', resolved_replaced: '已补发', resolved_refunded: '已退款', rejected: '已驳回' };
function ticketStatus(s) {
  return TICKET_STATUS[s] || s;
}

/** The message to show for a failed call: the server's own words (without the "field: " prefix the page marks anyway). */
function errorText(e) {
  if (!e) return '出错了';
  const msg = e.message || String(e);
  return e.field && msg.startsWith(`${e.field}: `) ? msg.slice(e.field.length + 2) : msg;
}

module.exports = { yuan, dateTime, date, daysLeft, mask, maskPhone, orderStatus, walletGroup, ticketStatus, errorText, WALLET_GROUP };
