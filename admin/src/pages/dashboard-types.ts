/** The body of GET /admin/analytics/dashboard and of the live 'snapshot' frame. */
export interface DashboardBody {
  at: string;
  today: { orders: number; gmv_fen: number; gross_profit_fen: number; refunds_fen: number; customers_new: number };
  orders_per_minute: { minute: string; orders: number; gmv_fen: number }[];
  stock_alerts: { sku_id: string; sku_name: string; available: number; threshold: number }[];
  risk_alerts: { id: string; kind: string; message: string; at: string }[];
  supplier_failures: { supplier_id: string; supplier_name: string; failures_1h: number; last_error: string | null; at: string | null }[];
}
export interface OrderEvent {
  id: string;
  status: 'paid' | 'delivered' | 'refunded';
  sku_id: string;
  sku_name: string;
  quantity: number;
  amount_fen: number;
  channel: string;
}
export interface AlertEvent {
  kind: 'stock' | 'risk' | 'supplier';
  message: string;
}

/**
 * Folds a live order into the dashboard between snapshots: a paid order
 * counts today and in its minute (the next snapshot replaces these guesses
 * with the server's numbers).
 */
export function applyOrder(d: DashboardBody, e: OrderEvent, at: Date): DashboardBody {
  if (e.status !== 'paid') return d;
  const minute = new Date(Math.floor(at.getTime() / 60_000) * 60_000).toISOString();
  const opm = [...d.orders_per_minute];
  const last = opm[opm.length - 1];
  if (last && new Date(last.minute).getTime() === new Date(minute).getTime()) opm[opm.length - 1] = { ...last, orders: last.orders + 1, gmv_fen: last.gmv_fen + e.amount_fen };
  else if (!last || new Date(last.minute) < new Date(minute)) {
    opm.push({ minute, orders: 1, gmv_fen: e.amount_fen });
    if (opm.length > 60) opm.shift();
  }
  return { ...d, today: { ...d.today, orders: d.today.orders + 1, gmv_fen: d.today.gmv_fen + e.amount_fen }, orders_per_minute: opm };
}
