import { useState } from 'preact/hooks';
import { api } from '../../lib/api';
import { formatDateTime, t } from '../../lib/i18n';
import { href, navigate, useRoute } from '../../lib/router';
import { DataTable, Form, Money } from '../../components';
import { DialogButton, FieldInput, KeyValues, PageHead, StatusBadge, can, col, dateCol, ft, options, statusCol, useIdempotency, useResource } from './kit';

interface Order {
  id: string;
  buyer_type: string;
  buyer_id: string;
  sku_id: string;
  quantity: number;
  unit_price_fen: number;
  discount_fen: number;
  amount_fen: number;
  channel: string;
  agent_id: string | null;
  campaign_id: string | null;
  coupon_id: string | null;
  status: string;
  payment_provider: string | null;
  delivered_quantity: number;
  refunded_fen: number;
  created_at: string;
  paid_at: string | null;
  delivered_at: string | null;
}
const statuses = ['held_for_review', 'pending_payment', 'paid', 'paid_awaiting_stock', 'awaiting_group', 'fulfilling', 'delivered', 'partially_delivered', 'cancelled', 'refunded', 'partially_refunded', 'failed'];

function RefundForm(props: { order: Order; done: () => void }) {
  const [f, setF] = useState({ reason: '', quantity: '', to: 'original', after_sales: 'false' });
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  const keyFor = useIdempotency();
  return (
    <Form
      submitLabel={t('orders.refund')}
      onSubmit={async () => {
        const body = { reason: f.reason, to: f.to, after_sales: f.after_sales === 'true', ...(f.quantity ? { quantity: Number(f.quantity) } : {}) };
        await api.post(`/admin/orders/${props.order.id}/refund`, body, keyFor(body));
        props.done();
      }}
    >
      <FieldInput name="reason" label={ft('reason')} value={f.reason} onInput={set('reason')} textarea />
      <FieldInput name="quantity" label={ft('quantity')} value={f.quantity} onInput={set('quantity')} type="number" hint={t('orders.refund_qty_hint', { n: props.order.quantity })} />
      <FieldInput name="to" label={t('orders.refund_to')} value={f.to} onInput={set('to')} options={[{ value: 'original', label: t('orders.to_original') }, { value: 'balance', label: t('orders.to_balance') }]} />
      <FieldInput name="after_sales" label={t('orders.after_sales')} value={f.after_sales} onInput={set('after_sales')} options={[{ value: 'false', label: t('common.no') }, { value: 'true', label: t('common.yes') }]} />
    </Form>
  );
}

function OrderDetail(props: { id: string }) {
  const r = useResource<Order>(`/admin/orders/${props.id}`);
  const [link, setLink] = useState<string | null>(null);
  if (!r.data) return <p class={r.error ? 'error' : 'muted'}>{r.error ?? t('common.loading')}</p>;
  const o = r.data;
  return (
    <div class="ops-card" data-testid="order-detail">
      <h2>
        {t('orders.detail')} {o.id} <StatusBadge value={o.status} />
      </h2>
      <KeyValues
        rows={[
          [ft('buyer_type'), o.buyer_type],
          [ft('buyer_id'), o.buyer_id],
          [ft('sku_id'), o.sku_id],
          [ft('quantity'), o.quantity],
          [ft('unit_price_fen'), <Money fen={o.unit_price_fen} />],
          [ft('discount_fen'), <Money fen={o.discount_fen} />],
          [ft('amount_fen'), <Money fen={o.amount_fen} />],
          [ft('refunded_fen'), <Money fen={o.refunded_fen} />],
          [ft('channel'), o.channel],
          [ft('agent_id'), o.agent_id],
          [ft('campaign_id'), o.campaign_id],
          [ft('coupon_id'), o.coupon_id],
          [ft('payment_provider'), o.payment_provider],
          [ft('delivered_quantity'), o.delivered_quantity],
          [ft('created_at'), formatDateTime(o.created_at)],
          [ft('paid_at'), formatDateTime(o.paid_at)],
          [ft('delivered_at'), formatDateTime(o.delivered_at)],
        ]}
      />
      <div class="page-head-actions">
        {can('orders:refund') && o.refunded_fen < o.amount_fen && o.paid_at && (
          <DialogButton label={t('orders.refund')} danger>
            {(close) => <RefundForm order={o} done={() => (close(), r.reload())} />}
          </DialogButton>
        )}
        {can('orders:reveal-link') && o.delivered_quantity > 0 && (
          <button type="button" onClick={() => void api.post<{ url: string }>(`/admin/orders/${o.id}/reveal-link`, {}).then((x) => setLink(x.url), (e: Error) => setLink(e.message))}>
            {t('orders.reveal_link')}
          </button>
        )}
        <a href={href('/orders')}>{t('ops.back')}</a>
      </div>
      {link && <p class="muted">{link}</p>}
    </div>
  );
}

/** Jump to one order by its id (the list filters by status and buyer; an id pasted from a ticket opens directly). */
function OpenById() {
  const [id, setId] = useState('');
  return (
    <form
      class="inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (id.trim()) navigate(`/orders/${id.trim()}`);
      }}
    >
      <input name="order_id" placeholder="ord_…" value={id} onInput={(e) => setId((e.target as HTMLInputElement).value)} />
      <button type="submit">{t('orders.open')}</button>
    </form>
  );
}

export default function OrdersPage() {
  const route = useRoute();
  const id = route.path.split('/')[2];
  return (
    <div class="page">
      <PageHead title={t('nav.ops.orders')}>{!id && <OpenById />}</PageHead>
      {id ? (
        <OrderDetail id={id} />
      ) : (
        <DataTable<Order & Record<string, unknown>>
          path="/admin/orders"
          exportName="orders"
          filters={[
            { key: 'status', label: ft('status'), type: 'select', options: options(statuses) },
            { key: 'buyer_type', label: ft('buyer_type'), type: 'select', options: options(['customer', 'agent', 'partner']) },
            { key: 'buyer_id', label: ft('buyer_id'), type: 'text' },
          ]}
          columns={[
            col('id', (o) => <a href={href(`/orders/${o.id}`)}>{o.id}</a>, (o) => o.id),
            col('buyer_type'),
            col('buyer_id'),
            col('sku_id'),
            col('quantity'),
            col('amount_fen', (o) => <Money fen={o.amount_fen} />, (o) => o.amount_fen / 100),
            col('refunded_fen', (o) => <Money fen={o.refunded_fen} />, (o) => o.refunded_fen / 100),
            col('channel'),
            statusCol(),
            dateCol('created_at'),
          ]}
          rowActions={(o) => (
            <button type="button" onClick={() => navigate(`/orders/${o.id}`)}>
              {t('ops.detail')}
            </button>
          )}
        />
      )}
    </div>
  );
}
