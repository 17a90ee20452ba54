import type { afterSalesEvents, afterSalesTickets } from './schema.js';

export const ticketStatuses = ['open', 'in_review', 'resolved_replaced', 'resolved_refunded', 'rejected'] as const;
export type TicketStatus = (typeof ticketStatuses)[number];
export const decisions = ['replace', 'refund', 'reject'] as const;
export type Decision = (typeof decisions)[number];

/** Where each decision leaves a ticket. */
export const decidedStatus: Record<Decision, TicketStatus> = { replace: 'resolved_replaced', refund: 'resolved_refunded', reject: 'rejected' };
/** A ticket in one of these states may still be decided. */
export const undecided: readonly TicketStatus[] = ['open', 'in_review'];

export interface TicketEventView {
  from_status: string | null;
  to_status: string;
  actor_type: string;
  actor_id: string | null;
  note: string | null;
  created_at: string;
}

export interface TicketView {
  id: string;
  customer_id: string;
  order_id: string;
  code_ids: string[];
  description: string;
  evidence_urls: string[];
  status: string;
  decision: string | null;
  decision_note: string | null;
  supplier_fault: boolean;
  replacement_order_id: string | null;
  refunded_fen: number | null;
  chargeback_fen: number | null;
  decided_at: string | null;
  created_at: string;
  history?: TicketEventView[];
}

export function toTicketView(t: typeof afterSalesTickets.$inferSelect, codeIds: string[], history?: (typeof afterSalesEvents.$inferSelect)[]): TicketView {
  return {
    id: t.id,
    customer_id: t.customerId,
    order_id: t.orderId,
    code_ids: codeIds,
    description: t.description,
    evidence_urls: t.evidenceUrls,
    status: t.status,
    decision: t.decision,
    decision_note: t.decisionNote,
    supplier_fault: t.supplierFault,
    replacement_order_id: t.replacementOrderId,
    refunded_fen: t.refundedFen,
    chargeback_fen: t.chargebackFen,
    decided_at: t.decidedAt?.toISOString() ?? null,
    created_at: t.createdAt.toISOString(),
    ...(history ? { history: history.map((e) => ({ from_status: e.fromStatus, to_status: e.toStatus, actor_type: e.actorType, actor_id: e.actorId, note: e.note, created_at: e.createdAt.toISOString() })) } : {}),
  };
}

/** What the customer is told in their chat, per outcome. */
export const decisionTexts = {
  'zh-CN': {
    resolved_replaced: (t: string) => `🔁 售后单 ${t}：已为您补发新卡密，请在订单中查看。`,
    resolved_refunded: (t: string, fen: number) => `💰 售后单 ${t}：已退款 ¥${(fen / 100).toFixed(2)}。`,
    rejected: (t: string, note: string) => `❌ 售后单 ${t} 未通过：${note}`,
  },
  en: {
    resolved_replaced: (t: string) => `🔁 After-sales ticket ${t}: a new code was sent to you; see your order.`,
    resolved_refunded: (t: string, fen: number) => `💰 After-sales ticket ${t}: refunded ¥${(fen / 100).toFixed(2)}.`,
    rejected: (t: string, note: string) => `❌ After-sales ticket ${t} was rejected: ${note}`,
  },
} as const;
