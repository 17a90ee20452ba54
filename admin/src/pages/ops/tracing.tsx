import { useState } from 'preact/hooks';
import { api } from '../../lib/api';
import { formatDateTime, t } from '../../lib/i18n';
import { href } from '../../lib/router';
import { Form } from '../../components';
import { FieldInput, PageHead, StatusBadge } from './kit';

interface Traced {
  input: string;
  found: boolean;
  code?: { id: string; sku_id: string; state: string; last4: string };
  order?: { id: string; status: string; channel: string; buyer_type: string; buyer_id: string; created_at: string; delivered_at: string | null } | null;
  chain: { level: number; agent_id: string; name: string; role: string; status: string }[];
  seller_leaks_30d: number;
}
interface TraceResult {
  codes: Traced[];
  flagged_agents: string[];
}

/** One leaked code's path: code → order (buyer) → the agents who sold it, nearest first. */
function Chain(props: { item: Traced }) {
  const x = props.item;
  if (!x.found)
    return (
      <li class="chain" data-testid="trace-item">
        <span class="chain-step">{x.input}</span> <span class="bad-text">{t('trace.not_found')}</span>
      </li>
    );
  return (
    <li class="chain" data-testid="trace-item">
      <span class="chain-step">
        {t('trace.code')} …{x.code?.last4} <StatusBadge value={x.code?.state} />
      </span>
      <span class="chain-arrow">→</span>
      {x.order ? (
        <span class="chain-step" data-testid="trace-order">
          {t('trace.order')} <a href={href(`/orders/${x.order.id}`)}>{x.order.id}</a> · {x.order.channel} · {x.order.buyer_type} {x.order.buyer_id} · {formatDateTime(x.order.created_at)}
        </span>
      ) : (
        <span class="chain-step muted">{t('trace.no_order')}</span>
      )}
      {x.chain.map((a) => (
        <>
          <span class="chain-arrow">→</span>
          <span class="chain-step" data-testid="trace-agent" key={a.agent_id}>
            {t('trace.level', { n: a.level })} {a.name} ({a.role}) <StatusBadge value={a.status} />
          </span>
        </>
      ))}
      {x.seller_leaks_30d > 0 && <span class="muted">{t('trace.leaks_30d', { n: x.seller_leaks_30d })}</span>}
    </li>
  );
}

export default function TracingPage() {
  const [text, setText] = useState('');
  const [source, setSource] = useState('');
  const [result, setResult] = useState<TraceResult | null>(null);
  return (
    <div class="page">
      <PageHead title={t('nav.ops.tracing')} />
      <div class="ops-grid">
        <section class="ops-card">
          <Form
            submitLabel={t('trace.run')}
            onSubmit={async () => {
              const codes = text
                .split(/[\n,;]+/)
                .map((s) => s.trim())
                .filter(Boolean);
              setResult(await api.post<TraceResult>('/admin/tracing/leaks', { codes, ...(source.trim() ? { source: source.trim() } : {}) }));
            }}
          >
            <FieldInput name="codes" label={t('trace.paste')} value={text} onInput={setText} textarea placeholder={t('trace.paste_hint')} />
            <FieldInput name="source" label={t('trace.source')} value={source} onInput={setSource} />
          </Form>
        </section>
        <section class="ops-card" data-testid="trace-result">
          <h3>{t('trace.chains')}</h3>
          {!result && <p class="muted">{t('trace.idle')}</p>}
          {result && (
            <>
              <ul class="plain">
                {result.codes.map((c, i) => (
                  <Chain item={c} key={i} />
                ))}
              </ul>
              {result.flagged_agents.length > 0 && <p class="bad-text">{t('trace.flagged', { agents: result.flagged_agents.join(', ') })}</p>}
            </>
          )}
        </section>
      </div>
    </div>
  );
}
