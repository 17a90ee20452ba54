import { useState } from 'preact/hooks';
import { api } from '../../lib/api';
import { formatNumber, t } from '../../lib/i18n';
import { DataTable, ProgressBar } from '../../components';
import { PageHead, col, dateCol, ft, messageOf } from './kit';

interface Verify {
  ok: boolean;
  rows: number;
  first_broken: { seq: number; reason: string } | null;
}

/** The audit log is a hash chain: verification walks every row and names the first one that does not link. */
function VerifyChain() {
  const [state, setState] = useState<{ running: boolean; result?: Verify; error?: string }>({ running: false });
  const run = async () => {
    setState({ running: true });
    try {
      setState({ running: false, result: await api.get<Verify>('/admin/audit/verify') });
    } catch (e) {
      setState({ running: false, error: messageOf(e) });
    }
  };
  const r = state.result;
  return (
    <div class="ops-card" data-testid="audit-verify">
      <button type="button" class="primary" disabled={state.running} onClick={() => void run()}>
        {t('audit.verify')}
      </button>{' '}
      {state.running && <ProgressBar value={0} label={t('audit.verifying')} />}
      {r && (r.ok ? <span class="ok-text">{t('audit.ok', { rows: formatNumber(r.rows) })}</span> : <span class="bad-text">{t('audit.broken', { rows: formatNumber(r.rows), seq: r.first_broken?.seq ?? '?', reason: r.first_broken?.reason ?? '' })}</span>)}
      {state.error && <span class="bad-text">{state.error}</span>}
    </div>
  );
}

export default function AuditPage() {
  return (
    <div class="page">
      <PageHead title={t('nav.ops.audit')} />
      <VerifyChain />
      <DataTable
        path="/admin/audit"
        exportName="audit-log"
        filters={[
          { key: 'action', label: ft('action'), type: 'text' },
          { key: 'actor_id', label: ft('actor_id'), type: 'text' },
        ]}
        columns={[col('seq'), dateCol('at'), col('actor_type'), col('actor_id'), col('action'), col('target_type'), col('target_id'), col('ip'), col('details', (r) => <code>{JSON.stringify(r.details)}</code>, (r) => JSON.stringify(r.details))]}
      />
    </div>
  );
}
