import { useState } from 'preact/hooks';
import { api } from '../../lib/api';
import { t } from '../../lib/i18n';
import { ConfirmButton, DataTable, Form } from '../../components';
import { StaticTable } from './static-table';
import { DialogButton, FieldInput, PageHead, can, col, dateCol, ft, options, statusCol, useSkuOptions } from './kit';

function AllocationForm(props: { skus: { value: string; label: string }[]; done: () => void }) {
  const [f, setF] = useState({ sku_id: '', holder_type: 'channel', holder_id: '', quantity: '', low_stock_threshold: '' });
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  const skuId = f.sku_id || props.skus[0]?.value || '';
  return (
    <Form
      onSubmit={async () => {
        await api.post('/admin/stock/allocations', { sku_id: skuId, holder_type: f.holder_type, holder_id: f.holder_id, quantity: Number(f.quantity), ...(f.low_stock_threshold ? { low_stock_threshold: Number(f.low_stock_threshold) } : {}) });
        props.done();
      }}
    >
      <FieldInput name="sku_id" label={ft('sku_id')} value={skuId} onInput={set('sku_id')} options={props.skus} />
      <FieldInput name="holder_type" label={ft('holder_type')} value={f.holder_type} onInput={set('holder_type')} options={options(['channel', 'agent', 'campaign'])} />
      <FieldInput name="holder_id" label={ft('holder_id')} value={f.holder_id} onInput={set('holder_id')} />
      <FieldInput name="quantity" label={ft('quantity')} value={f.quantity} onInput={set('quantity')} type="number" />
      <FieldInput name="low_stock_threshold" label={ft('low_stock_threshold')} value={f.low_stock_threshold} onInput={set('low_stock_threshold')} type="number" />
    </Form>
  );
}

function AdjustForm(props: { id: string; done: () => void }) {
  const [delta, setDelta] = useState('');
  return (
    <Form
      onSubmit={async () => {
        await api.post(`/admin/stock/allocations/${props.id}/adjust`, { delta: Number(delta) });
        props.done();
      }}
    >
      <FieldInput name="delta" label={ft('delta')} value={delta} onInput={setDelta} type="number" hint={t('stock.delta_hint')} />
    </Form>
  );
}

export default function StockPage() {
  const skus = useSkuOptions();
  const [sku, setSku] = useState('');
  const [bump, setBump] = useState(0);
  const skuId = sku || skus[0]?.value || '';
  return (
    <div class="page">
      <PageHead title={t('nav.ops.stock')} />
      <section class="ops-card">
        <h2>{t('stock.by_sku')}</h2>
        <FieldInput name="sku_id" label={ft('sku_id')} value={skuId} onInput={setSku} options={skus} />
        {skuId && (
          <StaticTable
            path="/admin/stock"
            query={{ sku_id: skuId }}
            rowKey={(r) => r.sku_id as string}
            exportName="stock"
            columns={[col('sku_id'), col('available'), col('available_free'), col('available_allocated'), col('reserved'), col('sold'), col('delivered'), col('redeemed'), col('expired'), col('voided'), col('expiring_soon')]}
          />
        )}
      </section>
      <section class="ops-card">
        <h2>{t('stock.allocations')}</h2>
        {can('catalog:write') && (
          <DialogButton label={t('stock.allocate')}>
            {(close) => <AllocationForm skus={skus} done={() => (close(), setBump((n) => n + 1))} />}
          </DialogButton>
        )}
        <DataTable
          path="/admin/stock/allocations"
          reloadKey={bump}
          exportName="allocations"
          filters={[{ key: 'sku_id', label: ft('sku_id'), type: 'text' }]}
          columns={[col('id'), col('sku_id'), col('holder_type'), col('holder_id'), col('available'), col('low_stock_threshold'), statusCol(), dateCol('created_at')]}
          rowActions={(r, reload) =>
            can('catalog:write') && (
              <>
                <DialogButton label={t('stock.adjust')}>{(close) => <AdjustForm id={r.id as string} done={() => (close(), reload())} />}</DialogButton>
                <ConfirmButton danger message={t('stock.release_confirm')} onConfirm={() => api.del(`/admin/stock/allocations/${r.id as string}`).then(reload)}>
                  {t('stock.release')}
                </ConfirmButton>
              </>
            )
          }
        />
      </section>
    </div>
  );
}
