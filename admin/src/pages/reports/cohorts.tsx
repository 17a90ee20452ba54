import { useState } from 'preact/hooks';
import { t } from '../../lib/i18n';
import { endpoints, percent, useRangeReport, type Range } from './shared';
import { ReportBody, ReportTable } from './report-table';

interface Cohorts {
  from: string;
  to: string;
  period: 'week' | 'month';
  data: Cohort[];
}
type Cohort = { cohort: string; customers: number; retention: { offset: number; customers: number; share: number }[] };
const retention = (c: Cohort, offset: number) => c.retention.find((x) => x.offset === offset);

/** Background for a retention share: white at 0, deep blue at 100 %. */
function heat(share: number): string {
  const a = Math.min(1, Math.max(0, share));
  return `rgba(37, 99, 235, ${(0.08 + a * 0.85).toFixed(2)})`;
}

/** Repurchase and retention: customers by the period of their first order, and the share who ordered again N periods later. */
export function CohortsReport({ range }: { range: Range }) {
  const [period, setPeriod] = useState<'week' | 'month'>('week');
  const report = useRangeReport<Cohorts>(endpoints.cohorts, range, { period });
  const { data } = report;
  const maxOffset = Math.max(0, ...(data?.data.flatMap((c) => c.retention.map((r) => r.offset)) ?? []));
  const offsets = Array.from({ length: Math.min(maxOffset, 12) }, (_, i) => i + 1);
  return (
    <div>
      <div class="toolbar">
        <label class="filter">
          <span>{t('reports.period')}</span>
          <select name="period" value={period} onChange={(e) => setPeriod((e.target as HTMLSelectElement).value as 'week' | 'month')}>
            <option value="week">{t('reports.week')}</option>
            <option value="month">{t('reports.month')}</option>
          </select>
        </label>
      </div>
      <ReportBody report={report}>
        {(data) => (
          <ReportTable<Cohort>
            class="heat"
            testId="cohort-table"
            rows={data.data}
            rowKey={(c) => c.cohort}
            columns={[
              { title: t('reports.cohort'), cell: (c) => c.cohort },
              { title: t('reports.customers'), num: true, cell: (c) => c.customers },
              ...offsets.map((n) => ({
                title: t('reports.period_n', { n }),
                num: true,
                cell: (c: Cohort) => {
                  const r = retention(c, n);
                  return r ? percent(r.share) : '';
                },
                td: (c: Cohort) => {
                  const r = retention(c, n);
                  return { class: 'cell', style: r ? { background: heat(r.share), color: r.share > 0.5 ? '#fff' : undefined } : undefined, title: r ? `${r.customers}` : '' };
                },
              })),
            ]}
          />
        )}
      </ReportBody>
    </div>
  );
}
