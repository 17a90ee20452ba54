import { useState } from 'preact/hooks';
import { api } from '../../lib/api';
import { formatDateTime, t } from '../../lib/i18n';
import { ConfirmButton, DataTable, Form, Money } from '../../components';
import { DialogButton, FieldInput, KeyValues, PageHead, StatusBadge, can, col, dateCol, ft, options, statusCol, useIdempotency, useResource } from './kit';

interface Ticket {
  id: string;
  customer_id: string;
  order_id: string;
  code_ids: string[];
  description: string;
  evidence_urls: string[];
  status: string;
  decision: string | null;
  decision_note: string | null;
  refunded_fen: number;
  history?: { from_status: string; to_status: string; actor_type: string; actor_id: string | null; note: string | null; created_at: string }[];
}

function Decide(props: { id: string; done: () => void }) {
  const [f, setF] = useState({ decision: 'replace', note: '', supplier_fault: 'false' });
  const keyFor = useIdempotency();
  return (
    <Form
      onSubmit={async () => {
        const body = { decision: f.decision, ...(f.note ? { note: f.note } : {}), supplier_fault: f.supplier_fault === 'true' };
        await api.post(`/admin/after-sales/${props.id}/decide`, body, keyFor(body));
        props.done();
      }}
    >
      <FieldInput name="decision" label={ft('decision')} value={f.decision} onInput={(v) => setF({ ...f, decision: v })} options={options(['replace', 'refund', 'reject'])} />
      <FieldInput name="note" label={ft('note')} value={f.note} onInput={(v) => setF({ ...f, note: v })} textarea />
      <FieldInput name="supplier_fault" label={ft('supplier_fault')} value={f.supplier_fault} onInput={(v) => setF({ ...f, supplier_fault: v })} options={[{ value: 'false', label: t('common.no') }, { value: 'true', label: t('common.yes') }]} />
    </Form>
  );
}

function TicketDetail(props: { id: string }) {
  const r = useResource<Ticket>(`/admin/after-sales/${props.id}`);
  if (!r.data) return <p class="muted">{r.error ?? t('common.loading')}</p>;
  const x = r.data;
  return (
    <>
      <KeyValues rows={[[ft('status'), <StatusBadge value={x.status} />], [ft('order_id'), x.order_id], [ft('customer_id'), x.customer_id], [ft('description'), x.description], [ft('code_ids'), x.code_ids.join(', ')], [ft('decision'), x.decision], [ft('refunded_fen'), <Money fen={x.refunded_fen} />]]} />
      <ul>
        {x.evidence_urls.map((u) => (
          <li key={u}>
            <a href={u} target="_blank" rel="noreferrer noopener">
              {u}
            </a>
          </li>
        ))}
      </ul>
      <table>
        <tbody>
          {(x.history ?? []).map((h, i) => (
            <tr key={i}>
              <td>{formatDateTime(h.created_at)}</td>
              <td>
                {h.from_status} → {h.to_status}
              </td>
              <td>
                {h.actor_type} {h.actor_id ?? ''}
              </td>
              <td>{h.note ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export default function AfterSalesPage() {
  return (
    <div class="page">
      <PageHead title={t('nav.ops.after_sales')} />
      <DataTable
        path="/admin/after-sales"
        exportName="after-sales"
        filters={[{ key: 'status', label: ft('status'), type: 'select', options: options(['open', 'in_review', 'resolved_replaced', 'resolved_refunded', 'rejected']) }]}
        columns={[col('id'), col('order_id'), col('customer_id'), col('description'), statusCol(), col('decision'), col('refunded_fen', (r) => <Money fen={r.refunded_fen as number} />), dateCol('created_at')]}
        rowActions={(r, reload) => (
          <>
            <DialogButton label={t('ops.detail')} wide>
              {() => <TicketDetail id={r.id as string} />}
            </DialogButton>
            {can('aftersales:decide') && r.status === 'open' && <ConfirmButton onConfirm={() => api.post(`/admin/after-sales/${r.id as string}/review`, {}).then(reload)}>{t('as.review')}</ConfirmButton>}
            {can('aftersales:decide') && (r.status === 'open' || r.status === 'in_review') && (
              <DialogButton label={t('as.decide')}>{(close) => <Decide id={r.id as string} done={() => (close(), reload())} />}</DialogButton>
            )}
          </>
        )}
      />
    </div>
  );
}
