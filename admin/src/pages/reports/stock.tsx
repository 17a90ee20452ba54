import { t, formatNumber } from '../../lib/i18n';
import { Badge } from '../../components/Badge';
import { endpoints, useRangeReport, type Range } from './shared';
import { ReportBody, ReportTable } from './report-table';

type StockRow = { sku_id: string; sku_name: string; units_sold: number; daily_demand: number; available: number; on_order: number; turnover: number | null; days_of_cover: number | null };
interface StockReport {
  from: string;
  to: string;
  data: StockRow[];
}

/** Stock turnover and days of cover per SKU, the thinnest cover first. */
export function StockReport({ range }: { range: Range }) {
  const report = useRangeReport<StockReport>(endpoints.stock, range);
  return (
    <div>
      <ReportBody report={report}>
        {(data) => (
          <ReportTable<StockRow>
            testId="stock-table"
            rows={data.data}
            rowKey={(s) => s.sku_id}
            columns={[
              { title: t('reports.sku'), cell: (s) => s.sku_name },
              { title: t('reports.sold'), num: true, cell: (s) => formatNumber(s.units_sold) },
              { title: t('reports.daily_demand'), num: true, cell: (s) => s.daily_demand },
              { title: t('reports.available'), num: true, cell: (s) => formatNumber(s.available) },
              { title: t('reports.on_order'), num: true, cell: (s) => formatNumber(s.on_order) },
              { title: t('reports.turnover'), num: true, cell: (s) => s.turnover ?? '—' },
              {
                title: t('reports.days_of_cover'),
                num: true,
                cell: (s) => (s.days_of_cover === null ? '—' : <Badge tone={s.days_of_cover < 3 ? 'bad' : s.days_of_cover < 7 ? 'warn' : 'ok'}>{s.days_of_cover}</Badge>),
              },
            ]}
          />
        )}
      </ReportBody>
    </div>
  );
}
