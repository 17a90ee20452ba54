import { useState } from 'preact/hooks';
import { t, formatNumber } from '../../lib/i18n';
import { Chart } from '../../components/Chart';
import { Money } from '../../components/Money';
import { downloadCsv } from '../../components/export';
import { endpoints, percent, useRangeReport, yuanAxis, type MoneySums, type Range } from './shared';
import { ReportBody, ReportTable } from './report-table';

type GroupBy = 'product' | 'category' | 'supplier' | 'channel';
type SalesRow = { key: string; name: string } & MoneySums;
interface SalesReport {
  from: string;
  to: string;
  group_by: GroupBy;
  rows: SalesRow[];
  totals: MoneySums;
  series: ({ day: string } & MoneySums)[];
}
const groups: { id: GroupBy; label: 'reports.by_product' | 'reports.by_category' | 'reports.by_supplier' | 'reports.by_channel' }[] = [
  { id: 'product', label: 'reports.by_product' },
  { id: 'category', label: 'reports.by_category' },
  { id: 'supplier', label: 'reports.by_supplier' },
  { id: 'channel', label: 'reports.by_channel' },
];
const margin = (x: MoneySums) => (x.net_sales_fen ? x.gross_profit_fen / x.net_sales_fen : null);

/** Sales and gross profit by product, category, supplier or channel, with the daily trend. */
export function SalesReport({ range }: { range: Range }) {
  const [groupBy, setGroupBy] = useState<GroupBy>('product');
  const report = useRangeReport<SalesReport>(endpoints.sales, range, { group_by: groupBy });
  const { data } = report;
  const exportRows = () =>
    data &&
    downloadCsv(
      `sales-${groupBy}-${range.from}-${range.to}`,
      [
        { title: t('reports.name'), value: (r) => r.name },
        { title: t('reports.orders'), value: (r) => r.orders },
        { title: t('reports.units'), value: (r) => r.units },
        { title: `${t('reports.gmv')} (fen)`, value: (r) => r.gmv_fen },
        { title: `${t('reports.refunds')} (fen)`, value: (r) => r.refunds_fen },
        { title: `${t('reports.cost')} (fen)`, value: (r) => r.cost_fen },
        { title: `${t('reports.profit')} (fen)`, value: (r) => r.gross_profit_fen },
      ],
      data.rows,
    );
  return (
    <div>
      <div class="toolbar">
        <label class="filter">
          <span>{t('reports.group_by')}</span>
          <select name="group_by" value={groupBy} onChange={(e) => setGroupBy((e.target as HTMLSelectElement).value as GroupBy)}>
            {groups.map((g) => (
              <option key={g.id} value={g.id}>
                {t(g.label)}
              </option>
            ))}
          </select>
        </label>
        <span class="toolbar-right">
          <button type="button" disabled={!data} onClick={exportRows}>
            {t('table.export_csv')}
          </button>
        </span>
      </div>
      <ReportBody report={report}>
        {(data) => (
          <>
            <section class="panel" style={{ marginBottom: '16px' }}>
              <h3>{t('reports.daily')}</h3>
              <Chart
                time
                height={260}
                format={yuanAxis}
                x={data.series.map((d) => Math.floor(new Date(`${d.day}T00:00:00`).getTime() / 1000))}
                series={[
                  { label: t('reports.gmv'), values: data.series.map((d) => d.gmv_fen) },
                  { label: t('reports.profit'), values: data.series.map((d) => d.gross_profit_fen) },
                  { label: t('reports.refunds'), values: data.series.map((d) => d.refunds_fen) },
                ]}
              />
            </section>
            <ReportTable<SalesRow>
              testId="sales-table"
              rows={data.rows}
              rowKey={(r) => r.key}
              columns={[
                { title: t('reports.name'), cell: (r) => r.name || r.key, foot: 'Σ' },
                { title: t('reports.orders'), num: true, cell: (r) => formatNumber(r.orders), foot: formatNumber(data.totals.orders) },
                { title: t('reports.units'), num: true, cell: (r) => formatNumber(r.units), foot: formatNumber(data.totals.units) },
                { title: t('reports.gmv'), num: true, cell: (r) => <Money fen={r.gmv_fen} />, foot: <Money fen={data.totals.gmv_fen} /> },
                { title: t('reports.refunds'), num: true, cell: (r) => <Money fen={r.refunds_fen} />, foot: <Money fen={data.totals.refunds_fen} /> },
                { title: t('reports.cost'), num: true, cell: (r) => <Money fen={r.cost_fen} />, foot: <Money fen={data.totals.cost_fen} /> },
                { title: t('reports.profit'), num: true, cell: (r) => <Money fen={r.gross_profit_fen} />, foot: <Money fen={data.totals.gross_profit_fen} /> },
                { title: t('reports.margin'), num: true, cell: (r) => percent(margin(r)), foot: percent(margin(data.totals)) },
              ]}
            />
          </>
        )}
      </ReportBody>
    </div>
  );
}
