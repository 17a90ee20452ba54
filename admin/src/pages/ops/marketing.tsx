import { useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { api } from '../../lib/api';
import { formatNumber, t } from '../../lib/i18n';
import { ConfirmButton, DataTable, Form, Money } from '../../components';
import { DialogButton, FieldInput, KeyValues, PageHead, ReasonForm, Tabs, can, col, dateCol, ft, options, statusCol, useResource, useSkuOptions, yuanToFen, type FieldName } from './kit';

const iso = (v: string) => (v ? new Date(v).toISOString() : undefined);
const money = (k: string) => (r: Record<string, unknown>) => <Money fen={r[k] as number} />;

/** A create form from a list of inputs; `build` turns the raw strings into the request body. */
function CreateForm(props: { path: string; fields: { name: FieldName; type?: string; options?: string[]; initial?: string; label?: string }[]; build: (v: Record<string, string>) => unknown; done: () => void; extra?: ComponentChildren }) {
  const [v, setV] = useState<Record<string, string>>(Object.fromEntries(props.fields.map((f) => [f.name, f.initial ?? (f.options?.[0] ?? '')])));
  return (
    <Form
      onSubmit={async () => {
        await api.post(props.path, props.build(v));
        props.done();
      }}
    >
      {props.fields.map((f) => (
        <FieldInput key={f.name} name={f.name} label={f.label ?? ft(f.name)} value={v[f.name] ?? ''} onInput={(x) => setV({ ...v, [f.name]: x })} type={f.type} options={f.options ? options(f.options) : undefined} />
      ))}
      {props.extra}
    </Form>
  );
}

function useBump(): [number, () => void] {
  const [n, setN] = useState(0);
  return [n, () => setN((x) => x + 1)];
}

function CouponsTab() {
  const [bump, again] = useBump();
  return (
    <>
      <DialogButton label={t('mkt.new_coupon')} permission="marketing:manage" wide>
        {(close) => (
          <CreateForm
            path="/admin/marketing/coupon-templates"
            fields={[{ name: 'name' }, { name: 'kind', options: ['fixed', 'percent', 'threshold'] }, { name: 'amount_off_fen', type: 'number', label: t('mkt.amount_off_yuan') }, { name: 'percent_off_bps', type: 'number' }, { name: 'min_amount_fen', type: 'number', label: t('mkt.min_amount_yuan') }, { name: 'valid_days', type: 'number', initial: '30' }, { name: 'total_limit', type: 'number' }, { name: 'campaign_id' }]}
            build={(v) => ({
              name: v.name,
              kind: v.kind,
              ...(v.amount_off_fen ? { amount_off_fen: yuanToFen(v.amount_off_fen!) } : {}),
              ...(v.percent_off_bps ? { percent_off_bps: Number(v.percent_off_bps) } : {}),
              ...(v.min_amount_fen ? { min_amount_fen: yuanToFen(v.min_amount_fen!) } : {}),
              ...(v.valid_days ? { valid_days: Number(v.valid_days) } : {}),
              ...(v.total_limit ? { total_limit: Number(v.total_limit) } : {}),
              ...(v.campaign_id ? { campaign_id: v.campaign_id } : {}),
            })}
            done={() => (close(), again())}
          />
        )}
      </DialogButton>
      <DataTable
        path="/admin/marketing/coupon-templates"
        reloadKey={bump}
        exportName="coupon-templates"
        filters={[{ key: 'status', label: ft('status'), type: 'select', options: options(['active', 'paused']) }, { key: 'campaign_id', label: ft('campaign_id'), type: 'text' }]}
        columns={[col('id'), col('name'), col('kind'), col('amount_off_fen', money('amount_off_fen')), col('percent_off_bps'), col('min_amount_fen', money('min_amount_fen')), col('issued_count'), col('used_count'), col('spent_fen', money('spent_fen')), statusCol(), dateCol('created_at')]}
        rowActions={(r, reload) =>
          can('marketing:manage') && (
            <ConfirmButton onConfirm={() => api.post(`/admin/marketing/coupon-templates/${r.id as string}/${r.status === 'paused' ? 'resume' : 'pause'}`, {}).then(reload)}>
              {r.status === 'paused' ? t('mkt.resume') : t('mkt.pause')}
            </ConfirmButton>
          )
        }
      />
    </>
  );
}

function CdkTab() {
  const [bump, again] = useBump();
  return (
    <>
      <DialogButton label={t('mkt.new_cdk')} permission="marketing:manage" wide>
        {(close) => (
          <CreateForm
            path="/admin/marketing/cdk-batches"
            fields={[{ name: 'name' }, { name: 'reward_kind', options: ['balance', 'points', 'coupon', 'product'] }, { name: 'reward_value', label: t('mkt.reward_value_hint') }, { name: 'mode', options: ['single', 'multi'] }, { name: 'count', type: 'number', initial: '100' }, { name: 'length', type: 'number', initial: '12' }, { name: 'prefix' }]}
            build={(v) => ({
              name: v.name,
              mode: v.mode,
              count: Number(v.count),
              pattern: { charset: "safe", length: Number(v.length), ...(v.prefix ? { prefix: v.prefix } : {}) },
              reward:
                v.reward_kind === 'balance'
                  ? { kind: 'balance', amount_fen: yuanToFen(v.reward_value ?? '') }
                  : v.reward_kind === 'points'
                    ? { kind: 'points', points: Number(v.reward_value) }
                    : v.reward_kind === 'coupon'
                      ? { kind: 'coupon', template_id: v.reward_value }
                      : { kind: 'product', sku_id: v.reward_value, quantity: 1 },
            })}
            done={() => (close(), again())}
          />
        )}
      </DialogButton>
      <DataTable
        path="/admin/marketing/cdk-batches"
        reloadKey={bump}
        exportName="cdk-batches"
        filters={[{ key: 'status', label: ft('status'), type: 'select', options: options(['active', 'voided']) }]}
        columns={[col('id'), col('name'), col('mode'), col('reward', (r) => JSON.stringify(r.reward)), col('codes'), col('redeemed'), col('voided_codes'), statusCol(), dateCol('expires_at'), dateCol('created_at')]}
        rowActions={(r, reload) => (
          <>
            <a class="button" href={`/admin/marketing/cdk-batches/${r.id as string}/export.csv`}>
              {t('mkt.export_masked')}
            </a>
            {can('marketing:manage') && r.status !== 'voided' && (
              <DialogButton label={t('mkt.void')} danger>
                {(close) => <ReasonForm label={ft('reason')} onSubmit={(reason) => api.post(`/admin/marketing/cdk-batches/${r.id as string}/void`, { reason })} done={() => (close(), reload())} />}
              </DialogButton>
            )}
          </>
        )}
      />
    </>
  );
}

function FlashTab() {
  const [bump, again] = useBump();
  const skus = useSkuOptions();
  return (
    <>
      <DialogButton label={t('mkt.new_flash')} permission="marketing:manage" wide>
        {(close) => (
          <CreateForm
            path="/admin/marketing/flash-sales"
            fields={[{ name: 'name' }, { name: 'sku_id', options: skus.map((s) => s.value) }, { name: 'price_fen', type: 'number', label: t('mkt.price_yuan') }, { name: 'units', type: 'number' }, { name: 'per_user_limit', type: 'number', initial: '1' }, { name: 'starts_at', type: 'datetime-local' }, { name: 'ends_at', type: 'datetime-local' }]}
            build={(v) => ({ name: v.name, sku_id: v.sku_id, price_fen: yuanToFen(v.price_fen ?? ''), units: Number(v.units), per_user_limit: Number(v.per_user_limit), starts_at: iso(v.starts_at ?? ''), ends_at: iso(v.ends_at ?? '') })}
            done={() => (close(), again())}
          />
        )}
      </DialogButton>
      <DataTable
        path="/admin/marketing/flash-sales"
        reloadKey={bump}
        exportName="flash-sales"
        filters={[{ key: 'status', label: ft('status'), type: 'select', options: options(['upcoming', 'active', 'ended', 'cancelled']) }]}
        columns={[col('id'), col('name'), col('sku_id'), col('price_fen', money('price_fen')), col('units'), col('remaining'), col('per_user_limit'), statusCol(), dateCol('starts_at'), dateCol('ends_at')]}
        rowActions={(r, reload) =>
          can('marketing:manage') && (
            <>
              {(r.status === 'upcoming' || r.status === 'active') && (
                <ConfirmButton danger onConfirm={() => api.post(`/admin/marketing/flash-sales/${r.id as string}/cancel`, {}).then(reload)}>
                  {t('ops.cancel_action')}
                </ConfirmButton>
              )}
              <ConfirmButton onConfirm={() => api.post(`/admin/marketing/flash-sales/${r.id as string}/reconcile`, {}).then(reload)}>{t('mkt.reconcile')}</ConfirmButton>
            </>
          )
        }
      />
    </>
  );
}

function GroupBuysTab() {
  const [bump, again] = useBump();
  const skus = useSkuOptions();
  return (
    <>
      <DialogButton label={t('mkt.new_group')} permission="marketing:manage" wide>
        {(close) => (
          <CreateForm
            path="/admin/marketing/group-buys"
            fields={[{ name: 'name' }, { name: 'sku_id', options: skus.map((s) => s.value) }, { name: 'group_price_fen', type: 'number', label: t('mkt.price_yuan') }, { name: 'group_size', type: 'number', initial: '3' }, { name: 'duration_minutes', type: 'number', initial: '1440' }, { name: 'ends_at', type: 'datetime-local' }]}
            build={(v) => ({ name: v.name, sku_id: v.sku_id, group_price_fen: yuanToFen(v.group_price_fen ?? ''), group_size: Number(v.group_size), duration_minutes: Number(v.duration_minutes), ends_at: iso(v.ends_at ?? '') })}
            done={() => (close(), again())}
          />
        )}
      </DialogButton>
      <DataTable
        path="/admin/marketing/group-buys"
        reloadKey={bump}
        exportName="group-buys"
        filters={[{ key: 'status', label: ft('status'), type: 'select', options: options(['active', 'ended']) }]}
        columns={[col('id'), col('name'), col('sku_id'), col('group_price_fen', money('group_price_fen')), col('group_size'), col('groups_opened'), statusCol(), dateCol('ends_at')]}
        rowActions={(r, reload) =>
          can('marketing:manage') &&
          r.status === 'active' && (
            <ConfirmButton danger onConfirm={() => api.post(`/admin/marketing/group-buys/${r.id as string}/end`, {}).then(reload)}>
              {t('mkt.end')}
            </ConfirmButton>
          )
        }
      />
    </>
  );
}

interface Roi {
  orders: number;
  units: number;
  new_customers: number;
  revenue_fen: number;
  cost_of_goods_fen: number;
  costs: { total_fen: number };
  gross_profit_fen: number;
  roi: number;
  cost_per_new_customer_fen: number | null;
}
function RoiView(props: { id: string }) {
  const r = useResource<Roi>(`/admin/marketing/campaigns/${props.id}/roi`);
  if (!r.data) return <p class="muted">{r.error ?? t('common.loading')}</p>;
  const d = r.data;
  return (
    <KeyValues
      rows={[
        [ft('orders'), formatNumber(d.orders)],
        [ft('units'), formatNumber(d.units)],
        [ft('new_customers'), formatNumber(d.new_customers)],
        [ft('revenue_fen'), <Money fen={d.revenue_fen} />],
        [ft('cost_of_goods_fen'), <Money fen={d.cost_of_goods_fen} />],
        [ft('costs'), <Money fen={d.costs.total_fen} />],
        [ft('gross_profit_fen'), <Money fen={d.gross_profit_fen} />],
        ['ROI', `${(d.roi * 100).toFixed(1)}%`],
        [ft('cost_per_new_customer_fen'), <Money fen={d.cost_per_new_customer_fen} />],
      ]}
    />
  );
}

function CampaignsTab() {
  const [bump, again] = useBump();
  return (
    <>
      <DialogButton label={t('mkt.new_campaign')} permission="marketing:manage">
        {(close) => (
          <CreateForm
            path="/admin/marketing/campaigns"
            fields={[{ name: 'name' }, { name: 'kind', options: ['general', 'coupon', 'cdk', 'flash_sale', 'group_buy', 'fission', 'recharge', 'points', 'referral'] }, { name: 'budget_fen', type: 'number', label: t('mkt.budget_yuan') }, { name: 'starts_at', type: 'datetime-local' }, { name: 'ends_at', type: 'datetime-local' }]}
            build={(v) => ({ name: v.name, kind: v.kind, ...(v.budget_fen ? { budget_fen: yuanToFen(v.budget_fen) } : {}), starts_at: iso(v.starts_at ?? ''), ends_at: iso(v.ends_at ?? '') })}
            done={() => (close(), again())}
          />
        )}
      </DialogButton>
      <DataTable
        path="/admin/marketing/campaigns"
        reloadKey={bump}
        exportName="campaigns"
        filters={[{ key: 'kind', label: ft('kind'), type: 'select', options: options(['general', 'coupon', 'cdk', 'flash_sale', 'group_buy', 'fission', 'recharge', 'points', 'referral']) }]}
        columns={[col('id'), col('name'), col('kind'), col('budget_fen', money('budget_fen')), statusCol(), dateCol('starts_at'), dateCol('ends_at'), col('created_by')]}
        rowActions={(r) => (
          <>
            <DialogButton label="ROI" title={`ROI · ${r.name as string}`} wide>
              {() => <RoiView id={r.id as string} />}
            </DialogButton>
            <a class="button" href={`#/reports?tab=campaigns&campaign=${r.id as string}`}>
              {t('mkt.roi_report')}
            </a>
          </>
        )}
      />
    </>
  );
}

export default function MarketingPage() {
  return (
    <div class="page">
      <PageHead title={t('nav.ops.marketing')} />
      <Tabs
        tabs={[
          { key: 'coupons', label: t('mkt.tab_coupons'), render: () => <CouponsTab /> },
          { key: 'cdk', label: t('mkt.tab_cdk'), render: () => <CdkTab /> },
          { key: 'flash', label: t('mkt.tab_flash'), render: () => <FlashTab /> },
          { key: 'group', label: t('mkt.tab_group'), render: () => <GroupBuysTab /> },
          { key: 'campaigns', label: t('mkt.tab_campaigns'), render: () => <CampaignsTab /> },
        ]}
      />
    </div>
  );
}
