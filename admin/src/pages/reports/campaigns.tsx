import { t } from '../../lib/i18n';
import { DataTable } from '../../components/DataTable';
import { Money } from '../../components/Money';
import { Badge } from '../../components/Badge';
import { endpoints } from './shared';

interface CampaignRoi extends Record<string, unknown> {
  campaign_id: string;
  name: string;
  kind: string;
  status: string;
  orders: number;
  new_customers: number;
  revenue_fen: number;
  costs: { total_fen: number };
  gross_profit_fen: number;
  roi: number | null;
}

/** Campaign ROI from the marketing module (one page of campaigns at a time, exportable). */
export function CampaignsReport() {
  return (
    <DataTable<CampaignRoi>
      path={endpoints.campaignRoi}
      exportName="campaign-roi"
      rowKey={(r) => r.campaign_id}
      columns={[
        { key: 'name', title: t('reports.campaign'), render: (r) => <>{r.name} <Badge>{r.kind}</Badge></> },
        { key: 'status', title: t('reports.status') },
        { key: 'orders', title: t('reports.orders') },
        { key: 'new_customers', title: t('reports.new_customers') },
        { key: 'revenue_fen', title: t('reports.gmv'), render: (r) => <Money fen={r.revenue_fen} /> },
        { key: 'costs', title: t('reports.spend'), render: (r) => <Money fen={r.costs.total_fen} />, exportValue: (r) => r.costs.total_fen },
        { key: 'gross_profit_fen', title: t('reports.profit'), render: (r) => <Money fen={r.gross_profit_fen} /> },
        { key: 'roi', title: t('reports.roi'), render: (r) => (r.roi === null ? '—' : <Badge tone={r.roi >= 0 ? 'ok' : 'bad'}>{r.roi.toFixed(2)}</Badge>) },
      ]}
    />
  );
}
