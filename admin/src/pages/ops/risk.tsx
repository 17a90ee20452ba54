import { useState } from 'preact/hooks';
import { api, ApiError } from '../../lib/api';
import { t } from '../../lib/i18n';
import { ConfirmButton, DataTable, Form } from '../../components';
import { BacktestTab } from './risk-backtest';
import { StaticTable } from './static-table';
import { DialogButton, FieldInput, PageHead, ReasonForm, StatusBadge, Tabs, can, col, dateCol, ft, options, statusCol } from './kit';

interface Rule {
  id: string;
  name: string;
  description: string;
  action: string;
  mode: string;
  condition: unknown;
  applies_to: string[];
  enabled: boolean;
  version: number;
  updated_at: string;
}
const actions = ['allow', 'block', 'review', 'challenge'];
export const riskActions = ['order', 'login', 'register', 'withdrawal', 'coupon_claim', 'cdk_redeem'];

function parseCondition(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ApiError(400, 'VALIDATION_FAILED', `condition: ${(e as Error).message}`, 'condition', [{ field: 'condition', message: (e as Error).message }]);
  }
}

/** Create or change a rule; each save is a new version. Shadow mode records what the rule would do without acting. */
function RuleEditor(props: { rule?: Rule; done: () => void }) {
  const r = props.rule;
  const [f, setF] = useState({
    name: r?.name ?? '',
    description: r?.description ?? '',
    action: r?.action ?? 'review',
    mode: r?.mode ?? 'shadow',
    enabled: String(r?.enabled ?? true),
    applies_to: (r?.applies_to ?? ['order']).join(', '),
    condition: JSON.stringify(r?.condition ?? { field: 'velocity.account_1h', op: 'gte', value: 10 }, null, 2),
  });
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  return (
    <Form
      onSubmit={async () => {
        const body = {
          name: f.name,
          description: f.description,
          action: f.action,
          mode: f.mode,
          enabled: f.enabled === 'true',
          applies_to: f.applies_to.split(/[\s,]+/).filter(Boolean),
          condition: parseCondition(f.condition),
        };
        if (r) await api.patch(`/admin/risk/rules/${r.id}`, body);
        else await api.post('/admin/risk/rules', body);
        props.done();
      }}
    >
      <FieldInput name="name" label={ft('name')} value={f.name} onInput={set('name')} />
      <FieldInput name="description" label={ft('description')} value={f.description} onInput={set('description')} />
      <FieldInput name="action" label={ft('action')} value={f.action} onInput={set('action')} options={options(actions)} />
      <FieldInput name="mode" label={ft('mode')} value={f.mode} onInput={set('mode')} options={[{ value: 'enforce', label: t('risk.mode_enforce') }, { value: 'shadow', label: t('risk.mode_shadow') }]} />
      <FieldInput name="enabled" label={ft('enabled')} value={f.enabled} onInput={set('enabled')} options={[{ value: 'true', label: t('common.yes') }, { value: 'false', label: t('common.no') }]} />
      <FieldInput name="applies_to" label={ft('applies_to')} value={f.applies_to} onInput={set('applies_to')} hint={riskActions.join(', ')} />
      <FieldInput name="condition" label={ft('condition')} value={f.condition} onInput={set('condition')} textarea hint={t('risk.condition_hint')} />
    </Form>
  );
}

function RulesTab() {
  const [bump, setBump] = useState(0);
  return (
    <>
      <DialogButton label={t('risk.new_rule')} permission="risk:manage" wide>
        {(close) => <RuleEditor done={() => (close(), setBump((x) => x + 1))} />}
      </DialogButton>
      <StaticTable<Rule & Record<string, unknown>>
        path="/admin/risk/rules"
        reloadKey={bump}
        exportName="risk-rules"
        columns={[col('id'), col('name'), col('action', (r) => <StatusBadge value={r.action} />), col('mode', (r) => <StatusBadge value={r.mode} />), col('enabled'), col('applies_to', (r) => r.applies_to.join(', ')), col('version'), col('condition', (r) => <code>{JSON.stringify(r.condition)}</code>, (r) => JSON.stringify(r.condition)), dateCol('updated_at')]}
        rowActions={(r, reload) =>
          can('risk:manage') && (
            <>
              <DialogButton label={t('ops.edit')} title={`${t('ops.edit')} · ${r.name}`} wide testId={`edit-rule-${r.id}`}>
                {(close) => <RuleEditor rule={r} done={() => (close(), reload())} />}
              </DialogButton>
              {r.enabled && (
                <ConfirmButton danger onConfirm={() => api.post(`/admin/risk/rules/${r.id}/disable`, {}).then(reload)}>
                  {t('risk.disable')}
                </ConfirmButton>
              )}
            </>
          )
        }
      />
    </>
  );
}

/** Decisions in which a shadow rule matched: what that rule would have done had it been enforced. */
function ShadowTab() {
  const matches = (r: Record<string, unknown>) => (Array.isArray(r.shadow_matches) ? (r.shadow_matches as unknown[]) : []);
  return (
    <DataTable
      path="/admin/risk/decisions"
      exportName="risk-decisions"
      filters={[
        { key: 'action', label: ft('action'), type: 'select', options: options(riskActions) },
        { key: 'decision', label: ft('decision'), type: 'select', options: options(actions) },
        { key: 'subject', label: ft('subject'), type: 'text' },
      ]}
      columns={[
        col('id'),
        col('action'),
        col('subject'),
        col('decision', (r) => <StatusBadge value={r.decision as string} />),
        col('shadow_matches', (r) => (matches(r).length ? <code>{JSON.stringify(matches(r))}</code> : '—'), (r) => JSON.stringify(matches(r))),
        col('reasons', (r) => <code>{JSON.stringify(r.reasons)}</code>, (r) => JSON.stringify(r.reasons)),
        col('score'),
        col('label'),
        dateCol('created_at'),
      ]}
      rowActions={(r, reload) =>
        can('risk:review') && (
          <>
            <button type="button" onClick={() => void api.post(`/admin/risk/decisions/${r.id as string}/label`, { label: 'fraud' }).then(reload)}>
              {t('risk.label_fraud')}
            </button>
            <button type="button" onClick={() => void api.post(`/admin/risk/decisions/${r.id as string}/label`, { label: 'legit' }).then(reload)}>
              {t('risk.label_legit')}
            </button>
          </>
        )
      }
    />
  );
}

function ReviewsTab() {
  return (
    <DataTable
      path="/admin/risk/reviews"
      query={{}}
      exportName="risk-reviews"
      filters={[
        { key: 'status', label: ft('status'), type: 'select', options: options(['open', 'approved', 'rejected']) },
        { key: 'subject_type', label: ft('subject_type'), type: 'select', options: options(['order', 'withdrawal']) },
      ]}
      columns={[col('id'), col('subject_type'), col('subject_id'), col('decision_id'), statusCol(), col('reason'), col('decided_by'), dateCol('created_at')]}
      rowActions={(r, reload) =>
        r.status === 'open' && (
          <>
            <DialogButton label={t('ops.approve')}>
              {(close) => <ReasonForm label={ft('reason')} submitLabel={t('ops.approve')} onSubmit={(reason) => api.post(`/admin/risk/reviews/${r.id as string}/approve`, { reason })} done={() => (close(), reload())} />}
            </DialogButton>
            <DialogButton label={t('ops.reject')} danger>
              {(close) => <ReasonForm label={ft('reason')} submitLabel={t('ops.reject')} onSubmit={(reason) => api.post(`/admin/risk/reviews/${r.id as string}/reject`, { reason })} done={() => (close(), reload())} />}
            </DialogButton>
          </>
        )
      }
    />
  );
}

const listTypes = ['ip', 'cidr', 'device', 'phone_hash', 'openid', 'telegram_id', 'account'];
function ListsTab() {
  const [bump, setBump] = useState(0);
  const [f, setF] = useState({ type: 'ip', value: '', reason: '', expires_at: '' });
  return (
    <>
      <DialogButton label={t('risk.block_add')} permission="risk:manage">
        {(close) => (
          <Form
            onSubmit={async () => {
              await api.post('/admin/risk/lists', { type: f.type, value: f.value, ...(f.reason ? { reason: f.reason } : {}), ...(f.expires_at ? { expires_at: new Date(f.expires_at).toISOString() } : {}) });
              close();
              setBump((x) => x + 1);
            }}
          >
            <FieldInput name="type" label={ft('type')} value={f.type} onInput={(v) => setF({ ...f, type: v })} options={options(listTypes)} />
            <FieldInput name="value" label={ft('value')} value={f.value} onInput={(v) => setF({ ...f, value: v })} />
            <FieldInput name="reason" label={ft('reason')} value={f.reason} onInput={(v) => setF({ ...f, reason: v })} />
            <FieldInput name="expires_at" label={ft('expires_at')} value={f.expires_at} onInput={(v) => setF({ ...f, expires_at: v })} type="datetime-local" />
          </Form>
        )}
      </DialogButton>
      <DataTable
        path="/admin/risk/lists"
        reloadKey={bump}
        exportName="block-lists"
        filters={[{ key: 'type', label: ft('type'), type: 'select', options: options(listTypes) }]}
        columns={[col('id'), col('type'), col('value'), col('reason'), dateCol('expires_at'), col('created_by'), dateCol('created_at')]}
        rowActions={(r, reload) =>
          can('risk:manage') && (
            <ConfirmButton danger message={t('risk.block_remove_confirm', { value: r.value as string })} onConfirm={() => api.del(`/admin/risk/lists/${r.id as string}`).then(reload)}>
              {t('ops.delete')}
            </ConfirmButton>
          )
        }
      />
    </>
  );
}

function AlertsTab() {
  return (
    <DataTable
      path="/admin/alerts"
      exportName="alerts"
      filters={[
        { key: 'open', label: t('risk.alert_open'), type: 'select', options: [{ value: 'true', label: t('common.yes') }, { value: 'false', label: t('common.no') }] },
        { key: 'kind', label: ft('kind'), type: 'text' },
      ]}
      columns={[col('id'), col('kind'), col('severity', (r) => <StatusBadge value={r.severity as string} />), col('subject_type'), col('subject_id'), col('message'), dateCol('opened_at'), dateCol('cleared_at')]}
    />
  );
}

function StaffRiskTab() {
  return (
    <DataTable
      path="/admin/risk/staff"
      rowKey={(r) => r.staff_id as string}
      columns={[col('staff_id'), col('email'), col('name'), col('role'), col('revealed_1h'), col('exported_24h'), col('blocked', (r) => (r.blocked ? <StatusBadge value="block" /> : '—'))]}
      rowActions={(r, reload) =>
        Boolean(r.blocked) &&
        can('risk:staff-unblock') && (
          <DialogButton label={t('risk.unblock')}>
            {(close) => <ReasonForm label={ft('reason')} onSubmit={(reason) => api.post(`/admin/risk/staff/${r.staff_id as string}/unblock`, { reason })} done={() => (close(), reload())} />}
          </DialogButton>
        )
      }
    />
  );
}

export default function RiskPage() {
  return (
    <div class="page">
      <PageHead title={t('nav.ops.risk')} />
      <Tabs
        tabs={[
          { key: 'rules', label: t('risk.tab_rules'), render: () => <RulesTab /> },
          { key: 'shadow', label: t('risk.tab_shadow'), render: () => <ShadowTab /> },
          { key: 'backtest', label: t('risk.tab_backtest'), render: () => <BacktestTab /> },
          { key: 'reviews', label: t('risk.tab_reviews'), permission: 'risk:review', render: () => <ReviewsTab /> },
          { key: 'lists', label: t('risk.tab_lists'), render: () => <ListsTab /> },
          { key: 'alerts', label: t('risk.tab_alerts'), permission: 'system:read', render: () => <AlertsTab /> },
          { key: 'staff', label: t('risk.tab_staff'), render: () => <StaffRiskTab /> },
        ]}
      />
    </div>
  );
}
