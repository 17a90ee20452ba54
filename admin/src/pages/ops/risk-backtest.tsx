import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type Page } from '../../lib/api';
import { formatNumber, t } from '../../lib/i18n';
import { Form, ProgressBar } from '../../components';
import { FieldInput, KeyValues, ft, options, useResource } from './kit';

interface Metrics {
  flagged_labelled: number;
  true_positives: number;
  false_positives: number;
  false_negatives: number;
  precision: number;
  recall: number;
}
interface Backtest {
  period: { from: string; to: string };
  replayed: number;
  changed: number;
  labelled: { fraud: number; legit: number };
  newly_blocked: { count: number; examples: string[] };
  newly_reviewed: { count: number; examples: string[] };
  newly_challenged: { count: number; examples: string[] };
  newly_allowed: { count: number; examples: string[] };
  candidate: Metrics;
  baseline: Metrics;
  candidate_rule_hits: { count: number; examples: string[] } | null;
  lists_note: string;
}

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
const pct = (n: number) => `${(n * 100).toFixed(1)}%`;

/** A running request's elapsed time: the server replays decisions in one call, so the bar shows time, not a fraction. */
function useElapsed(running: boolean): number {
  const [s, setS] = useState(0);
  useEffect(() => {
    if (!running) return;
    setS(0);
    const started = Date.now();
    const timer = setInterval(() => setS(Math.round((Date.now() - started) / 100) / 10), 100);
    return () => clearInterval(timer);
  }, [running]);
  return s;
}

/** Replays past decisions with a rule (an existing one changed, or a candidate) and compares with what happened. */
export function BacktestTab() {
  const rules = useResource<Page<{ id: string; name: string }>>('/admin/risk/rules');
  const [f, setF] = useState({ rule_id: '', mode: 'enforce', action: '', condition: '', from: day(-7), to: day(1) });
  const [running, setRunning] = useState(false);
  const [result, setResult] = useState<Backtest | null>(null);
  const elapsed = useElapsed(running);
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  const ruleOptions = [{ value: '', label: t('bt.candidate') }, ...(rules.data?.data ?? []).map((r) => ({ value: r.id, label: r.name }))];

  const run = async () => {
    let condition: unknown;
    if (f.condition.trim()) {
      try {
        condition = JSON.parse(f.condition);
      } catch (e) {
        throw new ApiError(400, 'VALIDATION_FAILED', `condition: ${(e as Error).message}`, 'condition', [{ field: 'condition', message: (e as Error).message }]);
      }
    }
    const period = { from: new Date(f.from).toISOString(), to: new Date(f.to).toISOString() };
    const body = f.rule_id
      ? { rule_id: f.rule_id, change: { mode: f.mode, ...(condition !== undefined ? { condition } : {}) }, ...period }
      : { rule: { action: f.action || 'block', condition }, ...period };
    setRunning(true);
    setResult(null);
    try {
      setResult(await api.post<Backtest>('/admin/risk/backtest', body));
    } finally {
      setRunning(false);
    }
  };

  const metrics = (m: Metrics) => `P ${pct(m.precision)} · R ${pct(m.recall)} · TP ${m.true_positives} · FP ${m.false_positives} · FN ${m.false_negatives}`;
  return (
    <div class="ops-grid">
      <section class="ops-card">
        <h3>{t('bt.title')}</h3>
        <Form onSubmit={run} submitLabel={t('bt.run')}>
          <FieldInput name="rule_id" label={ft('rule_id')} value={f.rule_id} onInput={set('rule_id')} options={ruleOptions} />
          {f.rule_id ? (
            <FieldInput name="change.mode" label={ft('mode')} value={f.mode} onInput={set('mode')} options={options(['enforce', 'shadow'])} />
          ) : (
            <FieldInput name="rule.action" label={ft('action')} value={f.action || 'block'} onInput={set('action')} options={options(['block', 'review', 'challenge', 'allow'])} />
          )}
          <FieldInput name={f.rule_id ? 'change.condition' : 'rule.condition'} label={ft('condition')} value={f.condition} onInput={set('condition')} textarea hint={t('bt.condition_hint')} />
          <FieldInput name="from" label={t('common.from')} value={f.from} onInput={set('from')} type="date" />
          <FieldInput name="to" label={t('common.to')} value={f.to} onInput={set('to')} type="date" />
        </Form>
      </section>
      <section class="ops-card" data-testid="backtest-result">
        {running && <ProgressBar value={elapsed} label={t('bt.running', { s: elapsed.toFixed(1) })} />}
        {result && (
          <>
            <KeyValues
              rows={[
                [t('bt.replayed'), formatNumber(result.replayed)],
                [t('bt.changed'), formatNumber(result.changed)],
                [t('bt.labelled'), `${result.labelled.fraud} / ${result.labelled.legit}`],
                [t('bt.newly_blocked'), formatNumber(result.newly_blocked.count)],
                [t('bt.newly_reviewed'), formatNumber(result.newly_reviewed.count)],
                [t('bt.newly_challenged'), formatNumber(result.newly_challenged.count)],
                [t('bt.newly_allowed'), formatNumber(result.newly_allowed.count)],
                [t('bt.candidate_metrics'), metrics(result.candidate)],
                [t('bt.baseline_metrics'), metrics(result.baseline)],
              ]}
            />
            <p class="muted">{result.lists_note}</p>
          </>
        )}
      </section>
    </div>
  );
}
