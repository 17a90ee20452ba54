import { useEffect, useState } from 'preact/hooks';
import { api, type Query } from '../../lib/api';
import { t } from '../../lib/i18n';

/** The analytics module's report routes (src/modules/analytics/routes.ts). */
export const endpoints = {
  sales: '/admin/analytics/sales',
  agents: '/admin/analytics/agents',
  cohorts: '/admin/analytics/cohorts',
  stock: '/admin/analytics/stock',
  forecast: '/admin/analytics/forecast',
  campaignRoi: '/admin/analytics/campaigns',
} as const;

export interface Range {
  from: string;
  to: string;
}

export interface MoneySums {
  orders: number;
  units: number;
  gmv_fen: number;
  refunds_fen: number;
  net_sales_fen: number;
  cost_fen: number;
  gross_profit_fen: number;
}

/** YYYY-MM-DD of a local date. */
export function isoDay(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export function defaultRange(days = 30): Range {
  const to = new Date();
  const from = new Date(to.getTime() - (days - 1) * 86_400_000);
  return { from: isoDay(from), to: isoDay(to) };
}

export interface ReportResult<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
}

/** Loads a report whenever its query changes; the last request wins. */
export function useReport<T>(path: string, query: Query): ReportResult<T> {
  const [state, setState] = useState<ReportResult<T>>({ data: null, error: null, loading: true });
  const key = JSON.stringify(query);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    api
      .get<T>(path, query)
      .then((data) => live && setState({ data, error: null, loading: false }))
      .catch((e: unknown) => live && setState({ data: null, error: e instanceof Error ? e.message : String(e), loading: false }));
    return () => {
      live = false;
    };
  }, [path, key]);
  return state;
}

/** A report over a date range: `from`/`to` come from the range, the rest of the query from `extra`. */
export function useRangeReport<T>(path: string, range: Range, extra: Query = {}): ReportResult<T> {
  return useReport<T>(path, { ...extra, from: range.from, to: range.to });
}

export function ReportState(props: { error: string | null; loading: boolean }) {
  if (props.error)
    return (
      <p class="error" role="alert">
        {t('common.error', { message: props.error })}
      </p>
    );
  if (props.loading) return <p class="muted">{t('common.loading')}</p>;
  return null;
}

export function percent(share: number | null | undefined, digits = 1): string {
  return share === null || share === undefined ? '—' : `${(share * 100).toFixed(digits)}%`;
}

/** Fen on a chart axis: yuan without decimals. */
export const yuanAxis = (fen: number) => `¥${Math.round(fen / 100).toLocaleString('en-US')}`;
