import type { ComponentType } from 'preact';
import { useState } from 'preact/hooks';
import { can } from '../../lib/auth';
import { t, type MessageKey } from '../../lib/i18n';
import { href, replaceQuery, useRoute } from '../../lib/router';
import { defaultRange, type Range } from './shared';
import { SalesReport } from './sales';
import { AgentsReport } from './agents';
import { CohortsReport } from './cohorts';
import { CampaignsReport } from './campaigns';
import { StockReport } from './stock';
import { ForecastReport } from './forecast';

interface Tab {
  id: string;
  title: MessageKey;
  permission: string;
  /** Whether the date range applies. */
  ranged: boolean;
  component: ComponentType<{ range: Range }>;
}
const tabs: Tab[] = [
  { id: 'sales', title: 'reports.sales', permission: 'analytics:read', ranged: true, component: SalesReport },
  { id: 'agents', title: 'reports.agents', permission: 'analytics:read', ranged: true, component: AgentsReport },
  { id: 'cohorts', title: 'reports.cohorts', permission: 'analytics:read', ranged: true, component: CohortsReport },
  { id: 'campaigns', title: 'reports.campaigns', permission: 'analytics:read', ranged: false, component: CampaignsReport },
  { id: 'stock', title: 'reports.stock', permission: 'analytics:read', ranged: true, component: StockReport },
  { id: 'forecast', title: 'reports.forecast', permission: 'analytics:read', ranged: false, component: ForecastReport },
];

/** Reports with a shared date range; the tab and range live in the URL (#/reports?tab=…&from=…&to=…). */
export default function ReportsPage() {
  const route = useRoute();
  const visible = tabs.filter((x) => can(x.permission));
  const tab = visible.find((x) => x.id === route.query.get('tab')) ?? visible[0];
  const fallback = defaultRange();
  const range: Range = { from: route.query.get('from') ?? fallback.from, to: route.query.get('to') ?? fallback.to };
  const [draft, setDraft] = useState(range);
  if (!tab) return null;
  const link = (id: string) => href(`/reports?${new URLSearchParams({ tab: id, from: range.from, to: range.to })}`);
  const Report = tab.component;
  return (
    <div class="page reports">
      <h2>{t('reports.title')}</h2>
      <nav class="tabs" data-testid="report-tabs">
        {visible.map((x) => (
          <a key={x.id} href={link(x.id)} class={x === tab ? 'active' : ''} data-tab={x.id}>
            {t(x.title)}
          </a>
        ))}
      </nav>
      {tab.ranged && (
        <form
          class="toolbar"
          onSubmit={(e) => {
            e.preventDefault();
            replaceQuery({ tab: tab.id, from: draft.from, to: draft.to });
          }}
        >
          <label class="filter">
            <span>{t('common.from')}</span>
            <input type="date" name="from" value={draft.from} onInput={(e) => setDraft({ ...draft, from: (e.target as HTMLInputElement).value })} />
          </label>
          <label class="filter">
            <span>{t('common.to')}</span>
            <input type="date" name="to" value={draft.to} onInput={(e) => setDraft({ ...draft, to: (e.target as HTMLInputElement).value })} />
          </label>
          <button type="submit" class="primary">
            {t('common.apply')}
          </button>
        </form>
      )}
      <Report range={range} />
    </div>
  );
}
