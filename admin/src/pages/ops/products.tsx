import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiError } from '../../lib/api';
import { t } from '../../lib/i18n';
import { DataTable, Form, Money, formatFen } from '../../components';
import { StaticTable } from './static-table';
import { DialogButton, FieldInput, PageHead, Tabs, col, dateCol, ft, json, options, useResource, useSkuOptions, yuanToFen, type FieldName } from './kit';

interface Sku {
  id: string;
  name: string;
  face_value_fen: number;
  cost_fen: number;
  retail_price_fen: number;
  min_resale_price_fen: number | null;
  agent_prices: Record<string, number>;
  low_stock_threshold: number;
  on_sale: boolean;
  off_sale_reason: string | null;
  available: number;
}
interface Product {
  id: string;
  name: string;
  brand: string;
  category: string;
  kind: string;
  created_at: string;
  skus: Sku[];
}

const fen = (v: string) => yuanToFen(v);

/** An agent price list is edited as lines "level price" (price in yuan); the API keeps it in fen by level. */
const priceListText = (prices: Record<string, number>) =>
  Object.entries(prices)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([level, p]) => `${level} ${p / 100}`)
    .join('\n');
function parsePriceList(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [i, line] of text.split('\n').map((l) => l.trim()).filter(Boolean).entries()) {
    const [level = '', price = ''] = line.split(/\s+/);
    if (!/^[1-9][0-9]?$/.test(level) || Number.isNaN(fen(price))) throw new ApiError(400, 'VALIDATION_FAILED', t('prod.bad_price_line', { n: i + 1 }), 'agent_prices', [{ field: 'agent_prices', message: t('prod.bad_price_line', { n: i + 1 }) }]);
    out[level] = fen(price);
  }
  return out;
}

function CreateProduct(props: { done: () => void }) {
  const [f, setF] = useState({ name: '', brand: '', category: '', kind: 'code', sku_name: '', face: '', cost: '', retail: '' });
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  return (
    <Form
      onSubmit={async () => {
        await api.post('/admin/products', {
          name: f.name,
          brand: f.brand,
          category: f.category,
          kind: f.kind,
          skus: [{ name: f.sku_name, face_value_fen: fen(f.face), cost_fen: fen(f.cost), retail_price_fen: fen(f.retail) }],
        });
        props.done();
      }}
    >
      <FieldInput name="name" label={ft('name')} value={f.name} onInput={set('name')} />
      <FieldInput name="brand" label={ft('brand')} value={f.brand} onInput={set('brand')} />
      <FieldInput name="category" label={ft('category')} value={f.category} onInput={set('category')} />
      <FieldInput name="kind" label={ft('kind')} value={f.kind} onInput={set('kind')} options={options(['code', 'topup', 'cdk'])} />
      <FieldInput name="skus.0.name" label={t('prod.sku_name')} value={f.sku_name} onInput={set('sku_name')} />
      <FieldInput name="skus.0.face_value_fen" label={t('prod.face_yuan')} value={f.face} onInput={set('face')} type="number" />
      <FieldInput name="skus.0.cost_fen" label={t('prod.cost_yuan')} value={f.cost} onInput={set('cost')} type="number" />
      <FieldInput name="skus.0.retail_price_fen" label={t('prod.retail_yuan')} value={f.retail} onInput={set('retail')} type="number" />
    </Form>
  );
}

function EditSku(props: { sku: Sku; done: () => void }) {
  const s = props.sku;
  const [f, setF] = useState({ retail: String(s.retail_price_fen / 100), cost: String(s.cost_fen / 100), min_resale: s.min_resale_price_fen === null ? '' : String(s.min_resale_price_fen / 100), threshold: String(s.low_stock_threshold), on_sale: s.on_sale ? 'true' : 'false', agent_prices: priceListText(s.agent_prices) });
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  return (
    <Form
      onSubmit={async () => {
        await api.patch(`/admin/skus/${s.id}`, {
          retail_price_fen: fen(f.retail),
          cost_fen: fen(f.cost),
          ...(f.min_resale.trim() ? { min_resale_price_fen: fen(f.min_resale) } : {}),
          low_stock_threshold: Number(f.threshold),
          on_sale: f.on_sale === 'true',
          agent_prices: parsePriceList(f.agent_prices),
        });
        props.done();
      }}
    >
      <FieldInput name="retail_price_fen" label={t('prod.retail_yuan')} value={f.retail} onInput={set('retail')} type="number" />
      <FieldInput name="cost_fen" label={t('prod.cost_yuan')} value={f.cost} onInput={set('cost')} type="number" />
      <FieldInput name="min_resale_price_fen" label={t('prod.min_resale_yuan')} value={f.min_resale} onInput={set('min_resale')} type="number" />
      <FieldInput name="agent_prices" label={t('prod.agent_prices')} value={f.agent_prices} onInput={set('agent_prices')} textarea hint={t('prod.agent_prices_hint')} />
      <FieldInput name="low_stock_threshold" label={ft('low_stock_threshold')} value={f.threshold} onInput={set('threshold')} type="number" />
      <FieldInput name="on_sale" label={ft('on_sale')} value={f.on_sale} onInput={set('on_sale')} options={[{ value: 'true', label: t('common.yes') }, { value: 'false', label: t('common.no') }]} />
    </Form>
  );
}

function LevelPrices(props: { skuId: string }) {
  const r = useResource<{ levels: { level: number; price_fen: number; derived: string; explanation: string }[] }>(`/admin/catalog/skus/${props.skuId}/level-prices`);
  if (r.error) return <p class="error">{r.error}</p>;
  return (
    <table>
      <thead>
        <tr>
          <th>{ft('level')}</th>
          <th>{ft('price_fen')}</th>
          <th>{ft('derived')}</th>
          <th>{ft('explanation')}</th>
        </tr>
      </thead>
      <tbody>
        {r.data?.levels.map((l) => (
          <tr key={l.level}>
            <td>{l.level}</td>
            <td>{formatFen(l.price_fen)}</td>
            <td>{l.derived}</td>
            <td>{l.explanation}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SkuTable(props: { product: Product; reload: () => void }) {
  const money = (k: FieldName & keyof Sku) => (s: Sku) => <Money fen={s[k] as number} />;
  const cols: { key: FieldName; render: (s: Sku) => ComponentChildren }[] = [
    { key: 'id', render: (s) => s.id },
    { key: 'name', render: (s) => s.name },
    { key: 'face_value_fen', render: money('face_value_fen') },
    { key: 'cost_fen', render: money('cost_fen') },
    { key: 'retail_price_fen', render: money('retail_price_fen') },
    { key: 'available', render: (s) => s.available },
    { key: 'on_sale', render: (s) => (s.on_sale ? t('common.yes') : `${t('common.no')} ${s.off_sale_reason ?? ''}`) },
  ];
  return (
    <table>
      <thead>
        <tr>
          {cols.map((c) => (
            <th key={c.key}>{ft(c.key)}</th>
          ))}
          <th>{t('common.actions')}</th>
        </tr>
      </thead>
      <tbody>
        {props.product.skus.map((s) => (
          <tr key={s.id}>
            {cols.map((c) => (
              <td key={c.key}>{c.render(s)}</td>
            ))}
            <td class="actions">
              <DialogButton label={t('ops.edit')} permission="catalog:write">
                {(close) => (
                  <EditSku
                    sku={s}
                    done={() => {
                      close();
                      props.reload();
                    }}
                  />
                )}
              </DialogButton>
              <DialogButton label={t('prod.level_prices')} wide>
                {() => <LevelPrices skuId={s.id} />}
              </DialogButton>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ProductsTab() {
  const [bump, setBump] = useState(0);
  return (
    <>
      <div class="page-head-actions">
        <DialogButton label={t('prod.create')} permission="catalog:write" wide>
          {(close) => (
            <CreateProduct
              done={() => {
                close();
                setBump((n) => n + 1);
              }}
            />
          )}
        </DialogButton>
      </div>
      <DataTable<Product & Record<string, unknown>>
        path="/admin/products"
        reloadKey={bump}
        exportName="products"
        columns={[col('id'), col('name'), col('brand'), col('category'), col('kind'), col('skus', (p) => p.skus.length, (p) => p.skus.map((s) => s.id).join(' ')), dateCol('created_at')]}
        rowActions={(p, reload) => (
          <DialogButton label={t('prod.skus')} title={p.name} wide>
            {() => <SkuTable product={p} reload={reload} />}
          </DialogButton>
        )}
      />
    </>
  );
}

function LevelRulesTab() {
  const [bump, setBump] = useState(0);
  const [f, setF] = useState({ level: '1', category_id: '', markup_bps: '' });
  return (
    <>
      <DialogButton label={t('prod.level_rule_set')} permission="catalog:write">
        {(close) => (
          <Form
            onSubmit={async () => {
              await api.put('/admin/catalog/level-rules', { level: Number(f.level), ...(f.category_id ? { category_id: f.category_id } : {}), markup_bps: Number(f.markup_bps) });
              close();
              setBump((n) => n + 1);
            }}
          >
            <FieldInput name="level" label={ft('level')} value={f.level} onInput={(v) => setF({ ...f, level: v })} type="number" />
            <FieldInput name="category_id" label={ft('category_id')} value={f.category_id} onInput={(v) => setF({ ...f, category_id: v })} />
            <FieldInput name="markup_bps" label={ft('markup_bps')} value={f.markup_bps} onInput={(v) => setF({ ...f, markup_bps: v })} type="number" />
          </Form>
        )}
      </DialogButton>
      <StaticTable path="/admin/catalog/level-rules" reloadKey={bump} exportName="level-rules" columns={[col('level'), col('category_id'), col('markup_bps'), col('markup_fen', (r) => <Money fen={r.markup_fen as number} />), col('updated_by'), dateCol('updated_at')]} />
    </>
  );
}

function SkuSuppliersTab() {
  const skus = useSkuOptions();
  const [sku, setSku] = useState('');
  const id = sku || skus[0]?.value || '';
  const r = useResource<{ data: unknown[] }>(id ? `/admin/skus/${id}/suppliers` : null);
  return (
    <>
      <FieldInput name="sku_id" label={ft('sku_id')} value={id} onInput={setSku} options={skus} />
      {r.error ? <p class="error">{r.error}</p> : r.data && json(r.data.data)}
    </>
  );
}

export default function ProductsPage() {
  return (
    <div class="page">
      <PageHead title={t('nav.ops.products')} />
      <Tabs
        tabs={[
          { key: 'products', label: t('prod.tab_products'), render: () => <ProductsTab /> },
          { key: 'levels', label: t('prod.tab_levels'), render: () => <LevelRulesTab /> },
          { key: 'suppliers', label: t('prod.tab_sku_suppliers'), render: () => <SkuSuppliersTab /> },
        ]}
      />
    </div>
  );
}
