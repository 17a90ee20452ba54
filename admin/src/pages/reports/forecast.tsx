import { useState } from 'preact/hooks';
import { t, formatNumber } from '../../lib/i18n';
import { Chart } from '../../components/Chart';
import { Badge } from '../../components/Badge';
import { endpoints, isoDay, ReportState, useReport } from './shared';
import { ReportBody, ReportTable } from './report-table';

interface ForecastRow {
  sku_id: string;
  sku_name: string;
  method: string;
  history?: number[];
  forecast: number[];
  lead_time_days: number;
  safety_days: number;
  available: number;
  on_order: number;
  demand_over_horizon: number;
  safety_stock: number;
  reorder_quantity: number;
}
interface Forecast {
  history_from: string;
  history_to: string;
  data: ForecastRow[];
}
const HISTORY_DAYS = 56;

/** Reorder suggestions for every SKU on sale; picking one shows its sales history and forecast. */
export function ForecastReport() {
  const [picked, setPicked] = useState<string | null>(null);
  const all = useReport<Forecast>(endpoints.forecast, { history_days: HISTORY_DAYS, safety_days: 3 });
  return (
    <div>
      <ReportBody report={all}>
        {(data) => (
          <>
            <section class="panel" style={{ marginBottom: '16px' }}>
              {picked ? <SkuForecast skuId={picked} /> : <p class="muted">{t('reports.pick_sku')}</p>}
            </section>
            <h3>{t('reports.reorder')}</h3>
            <ReportTable<ForecastRow>
              testId="forecast-table"
              rows={data.data}
              rowKey={(r) => r.sku_id}
              rowClass={(r) => (picked === r.sku_id ? 'selected' : '')}
              columns={[
                {
                  title: t('reports.sku'),
                  cell: (r) => (
                    <a href="javascript:void 0" onClick={() => setPicked(r.sku_id)}>
                      {r.sku_name}
                    </a>
                  ),
                },
                { title: t('reports.method'), cell: (r) => r.method },
                { title: t('reports.lead_time'), num: true, cell: (r) => r.lead_time_days },
                { title: t('reports.forecast_demand'), num: true, cell: (r) => formatNumber(Math.round(r.demand_over_horizon)) },
                { title: t('reports.safety_stock'), num: true, cell: (r) => formatNumber(Math.round(r.safety_stock)) },
                { title: t('reports.available'), num: true, cell: (r) => formatNumber(r.available) },
                { title: t('reports.on_order'), num: true, cell: (r) => formatNumber(r.on_order) },
                { title: t('reports.reorder_qty'), num: true, cell: (r) => (r.reorder_quantity > 0 ? <Badge tone="warn">{formatNumber(r.reorder_quantity)}</Badge> : '0') },
              ]}
            />
          </>
        )}
      </ReportBody>
    </div>
  );
}

/** History (actual daily units) continued by the forecast on one time axis. */
function SkuForecast({ skuId }: { skuId: string }) {
  const { data, error, loading } = useReport<Forecast>(endpoints.forecast, { sku_id: skuId, history_days: HISTORY_DAYS, safety_days: 3 });
  const row = data?.data[0];
  if (!data || !row) return <ReportState error={error} loading={loading} />;
  const history = row.history ?? [];
  const start = new Date(`${data.history_from}T00:00:00`).getTime();
  const days = history.length + row.forecast.length;
  const x = Array.from({ length: days }, (_, i) => Math.floor((start + i * 86_400_000) / 1000));
  return (
    <>
      <h3>
        {row.sku_name} <small class="muted">{`${isoDay(new Date(start))} → ${row.forecast.length}d`}</small>
      </h3>
      <Chart
        time
        height={240}
        x={x}
        series={[
          { label: t('reports.actual'), values: [...history, ...row.forecast.map(() => null)] },
          { label: t('reports.predicted'), values: [...history.map((_, i) => (i === history.length - 1 ? (history[i] ?? null) : null)), ...row.forecast], color: '#f59e0b' },
        ]}
      />
    </>
  );
}
