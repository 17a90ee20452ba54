import { useState } from 'preact/hooks';
import { api, ApiError } from '../../lib/api';
import { t } from '../../lib/i18n';
import { DataTable, Form, Money } from '../../components';
import { DialogButton, FieldInput, KeyValues, col, dateCol, ft, options, statusCol, useSkuOptions, yuanToFen } from './kit';

type Level = { kind: 'percent_of_price' | 'percent_of_margin'; bps: number } | { kind: 'fixed'; fen: number };
interface Preview {
  unit_price_fen: number;
  unit_cost_fen: number;
  margin_fen: number;
  rule_set_id: string | null;
  rule_version_id: string | null;
  capped: boolean;
  total_fen: number;
  levels: { level: number; agent_id: string | null; amount_fen: number; skipped: string | null }[];
}

/** Levels are edited as rows "kind value" (bps for percentages, yuan for fixed); tiered rules are made through the API. */
function parseLevels(text: string): Level[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line, i) => {
      const [kind, value = ''] = line.split(/\s+/);
      if (kind === 'fixed') return { kind, fen: yuanToFen(value) };
      if (kind === 'percent_of_price' || kind === 'percent_of_margin') return { kind, bps: Number(value) };
      throw new ApiError(400, 'VALIDATION_FAILED', t('comm.bad_level', { n: i + 1 }), 'levels', [{ field: 'levels', message: t('comm.bad_level', { n: i + 1 }) }]);
    });
}
const levelText = (levels: unknown[]) =>
  (levels as { kind: string; bps?: number; fen?: number }[]).map((l) => (l.kind === 'fixed' ? `fixed ¥${(l.fen ?? 0) / 100}` : l.kind === 'tiered' ? 'tiered' : `${l.kind} ${l.bps ?? 0}bps`)).join(' · ');

function RuleForm(props: { id?: string; done: () => void }) {
  const [f, setF] = useState({ name: '', scope_type: 'all', scope_value: '', max_levels: '3', levels: 'percent_of_price 500\npercent_of_price 200' });
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  return (
    <Form
      onSubmit={async () => {
        const levels = parseLevels(f.levels);
        if (props.id) await api.post(`/admin/commission-rules/${props.id}/versions`, { max_levels: Number(f.max_levels), levels });
        else await api.post('/admin/commission-rules', { name: f.name, scope_type: f.scope_type, ...(f.scope_value ? { scope_value: f.scope_value } : {}), max_levels: Number(f.max_levels), levels });
        props.done();
      }}
    >
      {!props.id && (
        <>
          <FieldInput name="name" label={ft('name')} value={f.name} onInput={set('name')} />
          <FieldInput name="scope_type" label={ft('scope_type')} value={f.scope_type} onInput={set('scope_type')} options={options(['all', 'product', 'category'])} />
          <FieldInput name="scope_value" label={ft('scope_value')} value={f.scope_value} onInput={set('scope_value')} />
        </>
      )}
      <FieldInput name="max_levels" label={ft('max_levels')} value={f.max_levels} onInput={set('max_levels')} type="number" />
      <FieldInput name="levels" label={ft('levels')} value={f.levels} onInput={set('levels')} textarea hint={t('comm.levels_hint')} />
    </Form>
  );
}

function PreviewCalculator() {
  const skus = useSkuOptions();
  const [f, setF] = useState({ sku_id: '', quantity: '1', agent_id: '', unit_price: '' });
  const [result, setResult] = useState<Preview | null>(null);
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  const skuId = f.sku_id || skus[0]?.value || '';
  return (
    <section class="ops-card" data-testid="commission-preview">
      <h3>{t('comm.preview')}</h3>
      <Form
        submitLabel={t('comm.calculate')}
        onSubmit={async () => {
          setResult(await api.post<Preview>('/admin/commissions/preview', { sku_id: skuId, quantity: Number(f.quantity), agent_id: f.agent_id, ...(f.unit_price ? { unit_price_fen: yuanToFen(f.unit_price) } : {}) }));
        }}
      >
        <FieldInput name="sku_id" label={ft('sku_id')} value={skuId} onInput={set('sku_id')} options={skus} />
        <FieldInput name="quantity" label={ft('quantity')} value={f.quantity} onInput={set('quantity')} type="number" />
        <FieldInput name="agent_id" label={ft('agent_id')} value={f.agent_id} onInput={set('agent_id')} />
        <FieldInput name="unit_price_fen" label={t('comm.unit_price_yuan')} value={f.unit_price} onInput={set('unit_price')} type="number" />
      </Form>
      {result && (
        <>
          <KeyValues
            rows={[
              [ft('unit_price_fen'), <Money fen={result.unit_price_fen} />],
              [ft('unit_cost_fen'), <Money fen={result.unit_cost_fen} />],
              [ft('margin_fen'), <Money fen={result.margin_fen} />],
              [ft('total_fen'), <Money fen={result.total_fen} />],
              [ft('capped'), result.capped ? t('common.yes') : t('common.no')],
              [ft('rule_version_id'), result.rule_version_id],
            ]}
          />
          <table>
            <thead>
              <tr>
                <th>{ft('level')}</th>
                <th>{ft('agent_id')}</th>
                <th>{ft('amount_fen')}</th>
                <th>{ft('skipped')}</th>
              </tr>
            </thead>
            <tbody>
              {result.levels.map((l) => (
                <tr key={l.level}>
                  <td>{l.level}</td>
                  <td>{l.agent_id ?? '—'}</td>
                  <td>
                    <Money fen={l.amount_fen} />
                  </td>
                  <td>{l.skipped ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

export function CommissionRulesTab() {
  const [bump, setBump] = useState(0);
  return (
    <div class="ops-grid">
      <section class="ops-card">
        <DialogButton label={t('comm.create')} permission="commissions:manage" wide>
          {(close) => <RuleForm done={() => (close(), setBump((x) => x + 1))} />}
        </DialogButton>
        <DataTable
          path="/admin/commission-rules"
          reloadKey={bump}
          exportName="commission-rules"
          columns={[
            col('id'),
            col('name'),
            col('scope_type'),
            col('scope_value'),
            col('version', (r) => (r.current_version as { version: number } | null)?.version ?? '—'),
            col('levels', (r) => levelText((r.current_version as { levels: unknown[] } | null)?.levels ?? []), (r) => JSON.stringify((r.current_version as { levels: unknown[] } | null)?.levels ?? [])),
            dateCol('created_at'),
          ]}
          rowActions={(r, reload) => (
            <DialogButton label={t('comm.new_version')} permission="commissions:manage" wide>
              {(close) => <RuleForm id={r.id as string} done={() => (close(), reload())} />}
            </DialogButton>
          )}
        />
      </section>
      <PreviewCalculator />
    </div>
  );
}

export function CommissionsTab() {
  return (
    <DataTable
      path="/admin/commissions"
      exportName="commissions"
      filters={[
        { key: 'agent_id', label: ft('agent_id'), type: 'text' },
        { key: 'order_id', label: ft('order_id'), type: 'text' },
        { key: 'status', label: ft('status'), type: 'select', options: options(['pending', 'available', 'reversed']) },
      ]}
      columns={[col('id'), col('order_id'), col('agent_id'), col('level'), col('amount_fen', (r) => <Money fen={r.amount_fen as number} />), statusCol(), col('reversed_fen', (r) => <Money fen={r.reversed_fen as number} />), dateCol('available_at'), dateCol('created_at')]}
    />
  );
}
