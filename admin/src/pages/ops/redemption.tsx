import { useState } from 'preact/hooks';
import { api, type Page } from '../../lib/api';
import { formatDateTime, t } from '../../lib/i18n';
import { replaceQuery, useRoute } from '../../lib/router';
import { DataTable, Form, Money, TableView } from '../../components';
import { DialogButton, FieldInput, KeyValues, PageHead, Tabs, col, dateCol, ft, statusCol, useResource } from './kit';
import { SecretOnce, type Issued } from './system';

/**
 * Offline redemption: merchants accept the codes of chosen products, their
 * stores' staff redeem them with a signing key issued here (secret shown
 * once), and the report sums redemptions per day and SKU.
 */
interface Merchant {
  id: string;
  name: string;
  status: string;
  product_ids: string[];
  created_at: string;
}
interface Store {
  id: string;
  merchant_id: string;
  name: string;
  address: string | null;
  status: string;
  created_at: string;
}
interface Report {
  from: string;
  to: string;
  rows: { day: string; sku_id: string; count: number; face_value_fen: number }[];
  total: { count: number; face_value_fen: number };
}
type Rec<T> = T & Record<string, unknown>;

/** Products to pick from (the first 100; a merchant's list is edited the same way later). */
function ProductPicker(props: { value: string[]; onChange: (ids: string[]) => void }) {
  const { data } = useResource<Page<{ id: string; name: string }>>('/admin/products?limit=100');
  const toggle = (id: string, on: boolean) => props.onChange(on ? [...props.value, id] : props.value.filter((x) => x !== id));
  return (
    <fieldset class="checks" data-testid="product-picker" style={{ display: 'flex', flexWrap: 'wrap', gap: '0.4rem 1.2rem', border: 0, padding: 0 }}>
      <legend>{ft('product_ids')}</legend>
      {(data?.data ?? []).map((p) => (
        <label key={p.id}>
          <input type="checkbox" name="product_ids" value={p.id} checked={props.value.includes(p.id)} onChange={(e) => toggle(p.id, (e.target as HTMLInputElement).checked)} /> {p.name}
        </label>
      ))}
    </fieldset>
  );
}

function MerchantForm(props: { merchant?: Merchant; done: () => void }) {
  const m = props.merchant;
  const [name, setName] = useState(m?.name ?? '');
  const [productIds, setProductIds] = useState<string[]>(m?.product_ids ?? []);
  return (
    <Form
      onSubmit={async () => {
        if (m) await api.put(`/admin/merchants/${m.id}/products`, { product_ids: productIds });
        else await api.post('/admin/merchants', { name, product_ids: productIds });
        props.done();
      }}
    >
      {!m && <FieldInput name="name" label={ft('name')} value={name} onInput={setName} />}
      <ProductPicker value={productIds} onChange={setProductIds} />
    </Form>
  );
}

function StoreForm(props: { merchantId: string; done: () => void }) {
  const [f, setF] = useState({ name: '', address: '' });
  return (
    <Form
      onSubmit={async () => {
        await api.post(`/admin/merchants/${props.merchantId}/stores`, { name: f.name, ...(f.address.trim() ? { address: f.address.trim() } : {}) });
        props.done();
      }}
    >
      <FieldInput name="name" label={ft('name')} value={f.name} onInput={(v) => setF({ ...f, name: v })} />
      <FieldInput name="address" label={ft('address')} value={f.address} onInput={(v) => setF({ ...f, address: v })} />
    </Form>
  );
}

function MerchantsTab() {
  const [bump, setBump] = useState(0);
  return (
    <>
      <DialogButton label={t('rdm.new_merchant')} permission="redemption:manage" wide testId="new-merchant">
        {(close) => <MerchantForm done={() => (close(), setBump((x) => x + 1))} />}
      </DialogButton>
      <DataTable<Rec<Merchant>>
        path="/admin/merchants"
        reloadKey={bump}
        exportName="merchants"
        columns={[col('id'), col('name'), statusCol(), col('product_ids', (m) => m.product_ids.length, (m) => m.product_ids.join(' ')), dateCol('created_at')]}
        rowActions={(m, reload) => (
          <>
            <DialogButton label={t('rdm.new_store')} permission="redemption:manage" testId={`new-store-${m.id}`}>
              {(close) => <StoreForm merchantId={m.id} done={() => (close(), replaceQuery({ tab: 'stores', merchant_id: m.id }))} />}
            </DialogButton>
            <DialogButton label={t('rdm.products')} permission="redemption:manage" wide>
              {(close) => <MerchantForm merchant={m} done={() => (close(), reload())} />}
            </DialogButton>
            <button type="button" class="link" onClick={() => replaceQuery({ tab: 'stores', merchant_id: m.id })}>
              {t('rdm.stores')}
            </button>
          </>
        )}
      />
    </>
  );
}

/** Adds a staff member; the response carries the key's secret, which the tab shows once. */
function StaffForm(props: { storeId: string; issued: (key: Issued) => void }) {
  const [name, setName] = useState('');
  return (
    <Form
      onSubmit={async () => {
        const r = await api.post<{ api_key: Issued }>(`/admin/stores/${props.storeId}/staff`, { name });
        props.issued(r.api_key);
      }}
    >
      <FieldInput name="name" label={ft('name')} value={name} onInput={setName} />
    </Form>
  );
}

function StaffList(props: { storeId: string; reloadKey: unknown }) {
  return (
    <DataTable path={`/admin/stores/${props.storeId}/staff`} reloadKey={props.reloadKey} columns={[col('id'), col('name'), col('api_key_id'), col('disabled'), dateCol('created_at')]} />
  );
}

function StoresTab() {
  const merchantId = useRoute().query.get('merchant_id') ?? undefined;
  const [secret, setSecret] = useState<Issued | null>(null);
  const [bump, setBump] = useState(0);
  return (
    <>
      {merchantId && (
        <p class="muted">
          {ft('merchant_id')}: <code>{merchantId}</code>{' '}
          <button type="button" class="link" onClick={() => replaceQuery({ tab: 'stores' })}>
            {t('common.reset')}
          </button>
        </p>
      )}
      <div data-testid="staff-secret">
        <SecretOnce secret={secret} />
      </div>
      <DataTable<Rec<Store>>
        path="/admin/stores"
        query={{ merchant_id: merchantId }}
        reloadKey={bump}
        exportName="stores"
        // Filtered to one merchant, its id is above the table, not in every row (keeps the table narrow).
        columns={[col('id'), ...(merchantId ? [] : [col<Rec<Store>>('merchant_id')]), col('name'), col('address'), statusCol(), dateCol('created_at')]}
        rowActions={(s) => (
          <>
            <DialogButton label={t('rdm.add_staff')} permission="redemption:manage" testId={`add-staff-${s.id}`}>
              {(close) => <StaffForm storeId={s.id} issued={(key) => (setSecret(key), close(), setBump((x) => x + 1))} />}
            </DialogButton>
            <DialogButton label={t('rdm.staff')} wide testId={`staff-of-${s.id}`}>
              {() => <StaffList storeId={s.id} reloadKey={bump} />}
            </DialogButton>
            <button type="button" class="link" onClick={() => replaceQuery({ tab: 'redemptions', store_id: s.id })}>
              {t('rdm.tab_redemptions')}
            </button>
          </>
        )}
      />
    </>
  );
}

function RedemptionsTab() {
  const storeId = useRoute().query.get('store_id') ?? undefined;
  return (
    <DataTable
      path="/admin/redemptions"
      query={{ store_id: storeId }}
      exportName="redemptions"
      filters={storeId ? [] : [{ key: 'store_id', label: ft('store_id'), type: 'text' }]}
      columns={[
        col('id'),
        col('code_id'),
        col('sku_id'),
        col('merchant_id'),
        col('store_id'),
        col('staff_id'),
        col('face_value_fen', (r) => <Money fen={r.face_value_fen as number} />, (r) => (r.face_value_fen as number) / 100),
        col('via'),
        dateCol('redeemed_at'),
      ]}
    />
  );
}

/** Per day and SKU for one store or one merchant; dates are whole UTC days, `to` exclusive like the API. */
function ReportTab() {
  const [f, setF] = useState({ store_id: '', merchant_id: '', from: '', to: '' });
  const [report, setReport] = useState<Report | null>(null);
  const day = (v: string) => (v ? `${v}T00:00:00.000Z` : undefined);
  return (
    <>
      <Form
        submitLabel={t('rdm.run_report')}
        onSubmit={async () => {
          const q = { store_id: f.store_id.trim() || undefined, merchant_id: f.merchant_id.trim() || undefined, from: day(f.from), to: day(f.to) };
          setReport(await api.get<Report>('/admin/redemptions/report', q));
        }}
      >
        <FieldInput name="store_id" label={ft('store_id')} value={f.store_id} onInput={(v) => setF({ ...f, store_id: v })} placeholder="sto_…" />
        <FieldInput name="merchant_id" label={ft('merchant_id')} value={f.merchant_id} onInput={(v) => setF({ ...f, merchant_id: v })} placeholder="mch_…" />
        <FieldInput name="from" label={ft('from')} value={f.from} onInput={(v) => setF({ ...f, from: v })} type="date" />
        <FieldInput name="to" label={ft('to')} value={f.to} onInput={(v) => setF({ ...f, to: v })} type="date" />
      </Form>
      {report && (
        <div data-testid="redemption-report">
          <KeyValues
            rows={[
              [ft('from'), formatDateTime(report.from)],
              [ft('to'), formatDateTime(report.to)],
              [ft('count'), report.total.count],
              [ft('face_value_fen'), <Money fen={report.total.face_value_fen} />],
            ]}
          />
          <TableView
            columns={[col('day'), col('sku_id'), col('count'), col('face_value_fen', (r) => <Money fen={r.face_value_fen as number} />)]}
            rows={report.rows}
            rowKey={(r) => `${r.day}:${r.sku_id}`}
            loading={false}
            reload={() => undefined}
          />
        </div>
      )}
    </>
  );
}

export default function RedemptionPage() {
  return (
    <div class="page">
      <PageHead title={t('nav.ops.redemption')} />
      <Tabs
        tabs={[
          { key: 'merchants', label: t('rdm.tab_merchants'), render: () => <MerchantsTab /> },
          { key: 'stores', label: t('rdm.tab_stores'), render: () => <StoresTab /> },
          { key: 'redemptions', label: t('rdm.tab_redemptions'), render: () => <RedemptionsTab /> },
          { key: 'report', label: t('rdm.tab_report'), render: () => <ReportTab /> },
        ]}
      />
    </div>
  );
}
