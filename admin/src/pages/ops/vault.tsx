import { useState } from 'preact/hooks';
import { api } from '../../lib/api';
import { formatDateTime, t } from '../../lib/i18n';
import { ConfirmButton, DataTable, Form, Money } from '../../components';
import { DialogButton, FieldInput, KeyValues, PageHead, ReasonForm, StatusBadge, Tabs, can, col, dateCol, ft, options, statusCol, useResource, useSkuOptions } from './kit';
import { ImportPanel } from './vault-import';

const codeStates = ['available', 'reserved', 'sold', 'delivered', 'revealed', 'redeemed', 'expired', 'voided', 'recycled'];

function BatchesTab() {
  return (
    <DataTable
      path="/admin/vault/batches"
      exportName="batches"
      filters={[{ key: 'sku_id', label: ft('sku_id'), type: 'text' }]}
      columns={[col('id'), col('sku_id'), col('origin'), col('supplier'), col('unit_cost_fen', (r) => <Money fen={r.unit_cost_fen as number} />), col('code_count'), col('region'), dateCol('expires_at'), col('imported_by'), dateCol('created_at')]}
    />
  );
}

function CodeDetail(props: { id: string }) {
  const r = useResource<{ id: string; state: string; secret_masked: string; order_id: string | null; events: { from: string; to: string; actor_type: string; actor_id: string | null; ref: string | null; at: string }[] }>(`/admin/vault/codes/${props.id}`);
  if (!r.data) return <p class="muted">{r.error ?? t('common.loading')}</p>;
  return (
    <>
      <KeyValues rows={[[ft('id'), r.data.id], [ft('secret_masked'), r.data.secret_masked], [ft('state'), <StatusBadge value={r.data.state} />], [ft('order_id'), r.data.order_id]]} />
      <table>
        <tbody>
          {r.data.events.map((e, i) => (
            <tr key={i}>
              <td>{formatDateTime(e.at)}</td>
              <td>
                {e.from} → {e.to}
              </td>
              <td>
                {e.actor_type} {e.actor_id ?? ''}
              </td>
              <td>{e.ref ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function CodesTab() {
  return (
    <DataTable
      path="/admin/vault/codes"
      exportName="codes-masked"
      filters={[
        { key: 'sku_id', label: ft('sku_id'), type: 'text' },
        { key: 'batch_id', label: ft('batch_id'), type: 'text' },
        { key: 'state', label: ft('state'), type: 'select', options: options(codeStates) },
      ]}
      columns={[col('id'), col('sku_id'), col('batch_id'), col('secret_masked'), statusCol('state'), col('order_id'), col('sale_count'), dateCol('expires_at'), dateCol('created_at')]}
      rowActions={(r, reload) => (
        <>
          <DialogButton label={t('ops.detail')} wide>
            {() => <CodeDetail id={r.id as string} />}
          </DialogButton>
          <DialogButton label={t('vault.void')} permission="vault:import" danger>
            {(close) => (
              <ReasonForm
                label={ft('reason')}
                onSubmit={(reason) => api.post(`/admin/vault/codes/${r.id as string}/void`, { reason })}
                done={() => {
                  close();
                  reload();
                }}
              />
            )}
          </DialogButton>
        </>
      )}
    />
  );
}

function ExportsTab() {
  const skus = useSkuOptions();
  const [bump, setBump] = useState(0);
  const [f, setF] = useState({ sku_id: '', max_codes: '100', reason: '' });
  const skuId = f.sku_id || skus[0]?.value || '';
  return (
    <>
      <DialogButton label={t('vault.export_request')}>
        {(close) => (
          <Form
            onSubmit={async () => {
              await api.post('/admin/vault/exports', { sku_id: skuId, state: 'available', max_codes: Number(f.max_codes), reason: f.reason });
              close();
              setBump((n) => n + 1);
            }}
          >
            <FieldInput name="sku_id" label={ft('sku_id')} value={skuId} onInput={(v) => setF({ ...f, sku_id: v })} options={skus} />
            <FieldInput name="max_codes" label={ft('max_codes')} value={f.max_codes} onInput={(v) => setF({ ...f, max_codes: v })} type="number" />
            <FieldInput name="reason" label={ft('reason')} value={f.reason} onInput={(v) => setF({ ...f, reason: v })} textarea />
          </Form>
        )}
      </DialogButton>
      <DataTable
        path="/admin/vault/exports"
        reloadKey={bump}
        filters={[{ key: 'status', label: ft('status'), type: 'select', options: options(['pending', 'approved', 'rejected', 'downloaded']) }]}
        columns={[col('id'), col('sku_id'), col('max_codes'), col('reason'), statusCol(), col('requested_by'), col('approved_by'), col('exported_count'), dateCol('created_at')]}
        rowActions={(r, reload) =>
          r.status === 'pending' ? (
            <>
              <ConfirmButton onConfirm={() => api.post(`/admin/vault/exports/${r.id as string}/approve`).then(reload)}>{t('ops.approve')}</ConfirmButton>
              <DialogButton label={t('ops.reject')} danger>
                {(close) => <ReasonForm label={ft('reason')} onSubmit={(reason) => api.post(`/admin/vault/exports/${r.id as string}/reject`, { reason })} done={() => (close(), reload())} />}
              </DialogButton>
            </>
          ) : r.status === 'approved' ? (
            <a class="button" href={`/admin/vault/exports/${r.id as string}/download`} onClick={() => setTimeout(reload, 1000)}>
              {t('vault.download')}
            </a>
          ) : null
        }
      />
    </>
  );
}

export default function VaultPage() {
  return (
    <div class="page">
      <PageHead title={t('nav.ops.vault')} />
      <Tabs
        tabs={[
          { key: 'import', label: t('vault.tab_import'), permission: 'vault:import', render: () => <ImportPanel /> },
          { key: 'batches', label: t('vault.tab_batches'), render: () => <BatchesTab /> },
          { key: 'codes', label: t('vault.tab_codes'), render: () => <CodesTab /> },
          ...(can('vault:export') ? [{ key: 'exports', label: t('vault.tab_exports'), render: () => <ExportsTab /> }] : []),
        ]}
      />
    </div>
  );
}
