import { useState } from 'preact/hooks';
import { formatDateTime as formatWhen, t } from '../../lib/i18n';
import { DataTable, Modal, TableView } from '../../components';
import { DialogButton, ErrorText, KeyValues, PageHead, StatusBadge, col, dateCol, ft, useResource } from './kit';

interface Identity {
  provider: string;
  external_id: string;
}
interface Customer {
  id: string;
  display_name: string;
  locale: string;
  /** Masked by the server (138****1234); the full number is never listed. */
  phone: string | null;
  status: string;
  created_at: string;
  identities: Identity[];
}
interface Binding {
  customer_id: string;
  binding: { agent_id: string; agent_name: string; agent_status: string; source: string; bound_at: string; expires_at: string | null; active: boolean } | null;
}

const providers = (c: Pick<Customer, 'identities'>) => [...new Set(c.identities.map((i) => i.provider))].join(', ');
const ID_PATTERN = /^cus_[0-9A-HJKMNP-TV-Z]{26}$/;

function BindingView(props: { id: string }) {
  const r = useResource<Binding>(`/admin/customers/${props.id}/binding`);
  if (!r.data) return r.error ? <ErrorText error={r.error} /> : <p class="muted">{t('common.loading')}</p>;
  const b = r.data.binding;
  if (!b) return <p class="muted" data-testid="customer-binding">{t('cus.unbound')}</p>;
  return (
    <div data-testid="customer-binding">
      <KeyValues
        rows={[
          [ft('agent_id'), `${b.agent_name} (${b.agent_id})`],
          [ft('status'), <StatusBadge value={b.agent_status} />],
          [ft('source'), b.source],
          [ft('bound_at'), formatWhen(b.bound_at)],
          [ft('expires_at'), b.expires_at ? formatWhen(b.expires_at) : t('cus.no_expiry')],
          [ft('active'), b.active ? t('common.yes') : t('common.no')],
        ]}
      />
    </div>
  );
}

/** One customer: profile, linked chat identities and the referral binding. */
export function CustomerDetail(props: { id: string }) {
  const r = useResource<Customer>(`/admin/customers/${props.id}`);
  if (!r.data) return r.error ? <ErrorText error={r.error} /> : <p class="muted">{t('common.loading')}</p>;
  const c = r.data;
  return (
    <div data-testid="customer-detail">
      <KeyValues
        rows={[
          [ft('id'), c.id],
          [ft('display_name'), c.display_name],
          [ft('phone'), c.phone],
          [ft('locale'), c.locale],
          [ft('status'), <StatusBadge value={c.status} />],
          [ft('created_at'), formatWhen(c.created_at)],
        ]}
      />
      <h3>{ft('identities')}</h3>
      <TableView
        columns={[col('provider'), col('external_id', (i) => <code>{String(i.external_id)}</code>)]}
        rows={c.identities.map((i) => ({ ...i }))}
        rowKey={(i) => `${i.provider}:${i.external_id}`}
        loading={false}
        reload={() => undefined}
      />
      <h3>{t('cus.binding')}</h3>
      <BindingView id={c.id} />
    </div>
  );
}

/** The list has no server-side filters; a pasted customer id (from an order, a ticket) opens that customer directly. */
function Lookup() {
  const [draft, setDraft] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const [bad, setBad] = useState(false);
  return (
    <form
      class="toolbar"
      onSubmit={(e) => {
        e.preventDefault();
        const id = draft.trim();
        setBad(!ID_PATTERN.test(id));
        if (ID_PATTERN.test(id)) setOpen(id);
      }}
    >
      <label class="filter">
        <span>{t('cus.lookup')}</span>
        <input name="customer_id" value={draft} placeholder="cus_…" onInput={(e) => setDraft((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit" class="primary">
        {t('common.search')}
      </button>
      {bad && <span class="error">{t('cus.bad_id')}</span>}
      <Modal open={!!open} title={t('cus.detail')} onClose={() => setOpen(null)} wide>
        {open && <CustomerDetail id={open} />}
      </Modal>
    </form>
  );
}

export default function CustomersPage() {
  return (
    <div class="page">
      <PageHead title={t('nav.ops.customers')} />
      <Lookup />
      <DataTable<Customer & Record<string, unknown>>
        path="/admin/customers"
        exportName="customers"
        columns={[
          col('id'),
          col('display_name'),
          col('phone', (c) => c.phone ?? '—'),
          col<Customer & Record<string, unknown>>('identities', providers, providers),
          col('locale'),
          col('status', (c) => <StatusBadge value={c.status} />),
          dateCol('created_at'),
        ]}
        rowActions={(c) => (
          <DialogButton label={t('ops.detail')} title={t('cus.detail')} wide testId={`customer-detail-${c.id}`}>
            {() => <CustomerDetail id={c.id} />}
          </DialogButton>
        )}
      />
    </div>
  );
}
