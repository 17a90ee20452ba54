import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../lib/api';
import { formatDateTime, formatNumber, t } from '../lib/i18n';
import { useLive, type LiveFrame } from '../lib/live';
import { Badge, type BadgeTone } from '../components/Badge';
import { Chart } from '../components/Chart';
import { Money, formatFen } from '../components/Money';
import { applyOrder, type AlertEvent, type DashboardBody, type OrderEvent } from './dashboard-types';

interface FeedItem extends OrderEvent {
  at: string;
  key: string;
}
const FEED_MAX = 30;
const statusTone: Record<OrderEvent['status'], BadgeTone> = { paid: 'info', delivered: 'ok', refunded: 'warn' };

/** The live dashboard: a snapshot over the WebSocket on connect and every 10 s, orders and alerts as they happen. */
export default function DashboardPage() {
  const [data, setData] = useState<DashboardBody | null>(null);
  const [feed, setFeed] = useState<FeedItem[]>([]);
  const [alerts, setAlerts] = useState<(AlertEvent & { at: string; key: string })[]>([]);
  const [error, setError] = useState<string | null>(null);
  // Order events carry no cost or customer: the figures only they can't move (gross profit, new customers) are
  // fetched again a moment after a burst of orders, instead of waiting for the next 10 s snapshot.
  const refresh = useRef<ReturnType<typeof setTimeout> | null>(null);
  const refreshSoon = useCallback(() => {
    if (refresh.current) return;
    refresh.current = setTimeout(() => {
      refresh.current = null;
      api.get<DashboardBody>('/admin/analytics/dashboard').then(setData, () => undefined);
    }, 1000);
  }, []);
  useEffect(() => () => void (refresh.current && clearTimeout(refresh.current)), []);

  const onFrame = useCallback((frame: LiveFrame) => {
    if (frame.type === 'snapshot') setData(frame.data as DashboardBody);
    else if (frame.type === 'order') {
      const e = frame.data as OrderEvent;
      setFeed((f) => [{ ...e, at: frame.at, key: `${e.id}:${e.status}` }, ...f.filter((x) => x.key !== `${e.id}:${e.status}`)].slice(0, FEED_MAX));
      setData((d) => (d ? applyOrder(d, e, new Date(frame.at)) : d));
      refreshSoon();
    } else if (frame.type === 'alert') {
      const a = frame.data as AlertEvent;
      setAlerts((list) => [{ ...a, at: frame.at, key: `${frame.at}:${a.message}` }, ...list].slice(0, 20));
    }
  }, [refreshSoon]);
  const status = useLive(onFrame);

  // Without the socket (refused, or not up yet) the numbers still come, by polling.
  useEffect(() => {
    if (status === 'open') return;
    let live = true;
    const load = () =>
      api
        .get<DashboardBody>('/admin/analytics/dashboard')
        .then((d) => live && (setData(d), setError(null)))
        .catch((e: unknown) => live && setError(e instanceof Error ? e.message : String(e)));
    const first = setTimeout(load, status === 'connecting' ? 1500 : 0);
    const every = setInterval(load, 15_000);
    return () => {
      live = false;
      clearTimeout(first);
      clearInterval(every);
    };
  }, [status]);

  const opm = data?.orders_per_minute ?? [];
  return (
    <div class="page dashboard">
      <h2>
        <span class={`live-dot${status === 'open' ? '' : ' off'}`} data-testid="live-status" data-status={status} />
        {t('dash.title')} <small class="muted">{status === 'open' ? t('dash.live') : t('dash.offline')}</small>
      </h2>
      {error && !data && <p class="error">{t('common.error', { message: error })}</p>}
      <div class="cards">
        <Kpi id="orders" label={t('dash.orders_today')} value={data ? formatNumber(data.today.orders) : '—'} />
        <Kpi id="gmv" label={t('dash.gmv_today')} value={data ? formatFen(data.today.gmv_fen) : '—'} />
        <Kpi id="profit" label={t('dash.profit_today')} value={data ? formatFen(data.today.gross_profit_fen) : '—'} />
        <Kpi id="refunds" label={t('dash.refunds_today')} value={data ? formatFen(data.today.refunds_fen) : '—'} />
        <Kpi id="customers" label={t('dash.customers_new')} value={data ? formatNumber(data.today.customers_new) : '—'} />
      </div>
      <div class="grid2">
        <section class="panel">
          <h3>{t('dash.opm')}</h3>
          {data ? (
            <Chart
              time
              bars
              height={260}
              x={opm.map((m) => Math.floor(new Date(m.minute).getTime() / 1000))}
              series={[{ label: t('reports.orders'), values: opm.map((m) => m.orders) }]}
            />
          ) : (
            <p class="muted">{t('common.loading')}</p>
          )}
        </section>
        <section class="panel">
          <h3>{t('dash.feed')}</h3>
          <ul class="list" data-testid="order-feed">
            {feed.length === 0 && <li class="muted">{t('dash.feed_empty')}</li>}
            {feed.map((o) => (
              <li key={o.key} class="fresh" data-testid="feed-item" data-order-id={o.id}>
                <span>
                  <Badge tone={statusTone[o.status]}>{t(`status.${o.status}`)}</Badge> {o.sku_name} × {o.quantity}
                  <br />
                  <small class="muted">
                    {o.channel} · {formatDateTime(o.at)}
                  </small>
                </span>
                <Money fen={o.amount_fen} />
              </li>
            ))}
          </ul>
        </section>
      </div>
      <div class="grid3">
        <section class="panel" data-testid="stock-alerts">
          <h3>
            {t('dash.stock_alerts')} <Badge tone={data?.stock_alerts.length ? 'warn' : 'ok'}>{data?.stock_alerts.length ?? 0}</Badge>
          </h3>
          <ul class="list">
            {alerts
              .filter((a) => a.kind === 'stock')
              .map((a) => (
                <li key={a.key} class="fresh">
                  {a.message}
                </li>
              ))}
            {data?.stock_alerts.map((s) => (
              <li key={s.sku_id}>
                <span>{s.sku_name}</span>
                <small class="muted">{t('dash.available', { available: s.available, threshold: s.threshold })}</small>
              </li>
            ))}
            {data && data.stock_alerts.length === 0 && <li class="muted">{t('dash.no_alerts')}</li>}
          </ul>
        </section>
        <section class="panel" data-testid="risk-alerts">
          <h3>
            {t('dash.risk_alerts')} <Badge tone={data?.risk_alerts.length ? 'bad' : 'ok'}>{data?.risk_alerts.length ?? 0}</Badge>
          </h3>
          <ul class="list">
            {alerts
              .filter((a) => a.kind === 'risk')
              .map((a) => (
                <li key={a.key} class="fresh">
                  {a.message}
                </li>
              ))}
            {data?.risk_alerts.map((r) => (
              <li key={r.id}>
                <span>
                  <Badge tone="bad">{r.kind}</Badge> {r.message}
                </span>
                <small class="muted">{formatDateTime(r.at)}</small>
              </li>
            ))}
            {data && data.risk_alerts.length === 0 && <li class="muted">{t('dash.no_alerts')}</li>}
          </ul>
        </section>
        <section class="panel" data-testid="supplier-failures">
          <h3>
            {t('dash.supplier_failures')} <Badge tone={data?.supplier_failures.length ? 'bad' : 'ok'}>{data?.supplier_failures.length ?? 0}</Badge>
          </h3>
          <ul class="list">
            {alerts
              .filter((a) => a.kind === 'supplier')
              .map((a) => (
                <li key={a.key} class="fresh">
                  {a.message}
                </li>
              ))}
            {data?.supplier_failures.map((s) => (
              <li key={s.supplier_id}>
                <span>
                  {s.supplier_name}
                  <br />
                  <small class="muted">{s.last_error ?? ''}</small>
                </span>
                <small>{t('dash.failures', { n: s.failures_1h })}</small>
              </li>
            ))}
            {data && data.supplier_failures.length === 0 && <li class="muted">{t('dash.no_alerts')}</li>}
          </ul>
        </section>
      </div>
    </div>
  );
}

function Kpi(props: { id: string; label: string; value: string }) {
  return (
    <div class="card" data-testid={`kpi-${props.id}`}>
      <div class="label">{props.label}</div>
      <div class="value">{props.value}</div>
    </div>
  );
}
