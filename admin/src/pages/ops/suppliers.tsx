import { useState } from 'preact/hooks';
import { api } from '../../lib/api';
import { t } from '../../lib/i18n';
import { ConfirmButton, DataTable, Form, Money } from '../../components';
import { DialogButton, FieldInput, PageHead, StatusBadge, Tabs, can, col, dateCol, ft, options, statusCol } from './kit';

function SupplierForm(props: { id?: string; done: () => void }) {
  const [f, setF] = useState({ name: '', base_url: '', api_key: '', callback_secret: '', timeout_ms: '', status: 'active' });
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  return (
    <Form
      onSubmit={async () => {
        const opt = (k: keyof typeof f) => (f[k] ? { [k]: k === 'timeout_ms' ? Number(f[k]) : f[k] } : {});
        if (props.id) await api.patch(`/admin/suppliers/${props.id}`, { ...opt('name'), ...opt('base_url'), ...opt('api_key'), ...opt('callback_secret'), ...opt('timeout_ms'), status: f.status });
        else await api.post('/admin/suppliers', { name: f.name, base_url: f.base_url, api_key: f.api_key, callback_secret: f.callback_secret, ...opt('timeout_ms') });
        props.done();
      }}
    >
      <FieldInput name="name" label={ft('name')} value={f.name} onInput={set('name')} />
      <FieldInput name="base_url" label={ft('base_url')} value={f.base_url} onInput={set('base_url')} />
      <FieldInput name="api_key" label={ft('api_key')} value={f.api_key} onInput={set('api_key')} type="password" hint={props.id ? t('sup.keep_blank') : undefined} />
      <FieldInput name="callback_secret" label={ft('callback_secret')} value={f.callback_secret} onInput={set('callback_secret')} type="password" hint={props.id ? t('sup.keep_blank') : undefined} />
      <FieldInput name="timeout_ms" label={ft('timeout_ms')} value={f.timeout_ms} onInput={set('timeout_ms')} type="number" />
      {props.id && <FieldInput name="status" label={ft('status')} value={f.status} onInput={set('status')} options={options(['active', 'disabled'])} />}
    </Form>
  );
}

function SuppliersTab() {
  const [bump, setBump] = useState(0);
  return (
    <>
      <DialogButton label={t('sup.create')} permission="catalog:write" wide>
        {(close) => <SupplierForm done={() => (close(), setBump((x) => x + 1))} />}
      </DialogButton>
      <DataTable
        path="/admin/suppliers"
        reloadKey={bump}
        exportName="suppliers"
        columns={[
          col('id'),
          col('name'),
          col('adapter'),
          statusCol(),
          col('health', (r) => <StatusBadge value={r.health as string} />),
          col('balance_fen', (r) => <Money fen={r.balance_fen as number} />, (r) => (r.balance_fen as number) / 100),
          col('consecutive_failures'),
          col('last_error'),
          dateCol('last_checked_at'),
          dateCol('last_synced_at'),
        ]}
        rowActions={(r, reload) =>
          can('catalog:write') && (
            <>
              <ConfirmButton onConfirm={() => api.post(`/admin/suppliers/${r.id as string}/sync`, {}).then(reload)}>{t('sup.sync')}</ConfirmButton>
              <DialogButton label={t('ops.edit')} wide>
                {(close) => <SupplierForm id={r.id as string} done={() => (close(), reload())} />}
              </DialogButton>
            </>
          )
        }
      />
    </>
  );
}

/** Supplier orders: an attempt above 1 is a failover to the next supplier of the SKU. */
function OrdersTab() {
  return (
    <DataTable
      path="/admin/supplier-orders"
      exportName="supplier-orders"
      filters={[
        { key: 'status', label: ft('status'), type: 'select', options: options(['placing', 'pending', 'unknown', 'importing', 'succeeded', 'failed']) },
        { key: 'supplier_id', label: ft('supplier_id'), type: 'text' },
        { key: 'purchase_id', label: ft('purchase_id'), type: 'text' },
      ]}
      columns={[
        col('id'),
        col('purchase_id'),
        col('supplier_id'),
        col('sku_id'),
        col('attempt', (r) => ((r.attempt as number) > 1 ? <StatusBadge value={`failover #${r.attempt as number}`} /> : 1), (r) => r.attempt),
        col('quantity'),
        statusCol(),
        col('unit_cost_fen', (r) => <Money fen={r.unit_cost_fen as number | null} />),
        col('error'),
        dateCol('created_at'),
      ]}
    />
  );
}

function CatalogTab() {
  const [id, setId] = useState('');
  return (
    <>
      <FieldInput name="supplier_id" label={ft('supplier_id')} value={id} onInput={setId} />
      {/^sup_/.test(id) && (
        <DataTable path={`/admin/suppliers/${id}/products`} exportName="supplier-products" columns={[col('external_sku'), col('name'), col('cost_fen', (r) => <Money fen={r.cost_fen as number} />), col('stock'), col('available'), dateCol('supplier_updated_at'), dateCol('synced_at')]} />
      )}
    </>
  );
}

export default function SuppliersPage() {
  return (
    <div class="page">
      <PageHead title={t('nav.ops.suppliers')} />
      <Tabs
        tabs={[
          { key: 'health', label: t('sup.tab_health'), render: () => <SuppliersTab /> },
          { key: 'orders', label: t('sup.tab_orders'), render: () => <OrdersTab /> },
          { key: 'catalog', label: t('sup.tab_catalog'), render: () => <CatalogTab /> },
        ]}
      />
    </div>
  );
}
