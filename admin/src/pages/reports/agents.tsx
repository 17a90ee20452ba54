import { t, formatNumber } from '../../lib/i18n';
import { Chart } from '../../components/Chart';
import { Money } from '../../components/Money';
import { endpoints, useRangeReport, yuanAxis, type MoneySums, type Range } from './shared';
import { ReportBody, ReportTable } from './report-table';

type AgentRow = { rank: number; agent_id: string; name: string; level: number; commission_fen: number } & MoneySums;
interface Leaderboard {
  from: string;
  to: string;
  data: AgentRow[];
}

/** Agents ranked by net sales, with their commissions, and the top ten as bars. */
export function AgentsReport({ range }: { range: Range }) {
  const report = useRangeReport<Leaderboard>(endpoints.agents, range, { limit: 50 });
  return (
    <div>
      <ReportBody report={report}>
        {(data) => {
          const top = data.data.slice(0, 10);
          return (
            <>
              {top.length > 0 && (
                <section class="panel" style={{ marginBottom: '16px' }}>
                  <Chart
                    bars
                    height={220}
                    format={yuanAxis}
                    x={top.map((_, i) => i)}
                    xLabels={top.map((a) => a.name || a.agent_id)}
                    series={[
                      { label: t('reports.gmv'), values: top.map((a) => a.net_sales_fen) },
                      { label: t('reports.commission'), values: top.map((a) => a.commission_fen) },
                    ]}
                  />
                </section>
              )}
              <ReportTable<AgentRow>
                testId="agents-table"
                rows={data.data}
                rowKey={(a) => a.agent_id}
                columns={[
                  { title: t('reports.rank'), cell: (a) => a.rank },
                  {
                    title: t('reports.agent'),
                    cell: (a) => (
                      <>
                        {a.name || a.agent_id} <small class="muted">L{a.level}</small>
                      </>
                    ),
                  },
                  { title: t('reports.orders'), num: true, cell: (a) => formatNumber(a.orders) },
                  { title: t('reports.gmv'), num: true, cell: (a) => <Money fen={a.gmv_fen} /> },
                  { title: t('reports.refunds'), num: true, cell: (a) => <Money fen={a.refunds_fen} /> },
                  { title: t('reports.profit'), num: true, cell: (a) => <Money fen={a.gross_profit_fen} /> },
                  { title: t('reports.commission'), num: true, cell: (a) => <Money fen={a.commission_fen} /> },
                ]}
              />
            </>
          );
        }}
      </ReportBody>
    </div>
  );
}
