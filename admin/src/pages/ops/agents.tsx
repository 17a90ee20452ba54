import { useEffect, useState } from 'preact/hooks';
import { api, type Page } from '../../lib/api';
import { t } from '../../lib/i18n';
import { ConfirmButton, DataTable, Form } from '../../components';
import { CommissionRulesTab, CommissionsTab } from './commissions';
import { DialogButton, ErrorText, FieldInput, PageHead, ReasonForm, StatusBadge, Tabs, can, col, dateCol, ft, messageOf, options, statusCol } from './kit';

interface Agent {
  id: string;
  name: string;
  role: string;
  parent_id: string | null;
  depth: number;
  referral_code: string;
  status: string;
  created_at: string;
}
const TREE_MAX = 2000;

function FreezeButtons(props: { agent: Agent; reload: () => void }) {
  if (!can('agents:manage')) return null;
  const a = props.agent;
  const frozen = a.status === 'frozen';
  return (
    <DialogButton label={frozen ? t('agents.unfreeze') : t('agents.freeze')} danger={!frozen} testId={`freeze-${a.id}`}>
      {(close) => (
        <ReasonForm
          label={ft('reason')}
          submitLabel={frozen ? t('agents.unfreeze') : t('agents.freeze')}
          onSubmit={(reason) => api.post(`/admin/agents/${a.id}/${frozen ? 'unfreeze' : 'freeze'}`, { reason })}
          done={() => (close(), props.reload())}
        />
      )}
    </DialogButton>
  );
}

/** The whole agent tree, drawn from the flat list (parent_id); large networks are cut at TREE_MAX with a note. */
function TreeTab() {
  const [agents, setAgents] = useState<Agent[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    (async () => {
      const all: Agent[] = [];
      let cursor: string | null = null;
      do {
        const page: Page<Agent> = await api.get<Page<Agent>>('/admin/agents', { limit: 100, cursor: cursor ?? undefined });
        all.push(...page.data);
        cursor = page.has_more ? page.next_cursor : null;
      } while (cursor && all.length < TREE_MAX);
      if (live) setAgents(all);
    })().catch((e: unknown) => live && setError(messageOf(e)));
    return () => {
      live = false;
    };
  }, [n]);
  if (error) return <ErrorText error={error} />;
  if (!agents) return <p class="muted">{t('common.loading')}</p>;
  const children = new Map<string | null, Agent[]>();
  const ids = new Set(agents.map((a) => a.id));
  for (const a of agents) {
    const parent = a.parent_id && ids.has(a.parent_id) ? a.parent_id : null;
    children.set(parent, [...(children.get(parent) ?? []), a]);
  }
  const branch = (parent: string | null): preact.JSX.Element | null => {
    const list = children.get(parent);
    if (!list?.length) return null;
    return (
      <ul>
        {list.map((a) => (
          <li key={a.id} data-agent={a.id}>
            <span class="node">
              <strong>{a.name}</strong> <span class="muted">{a.role}</span> <StatusBadge value={a.status} /> <code>{a.referral_code}</code>
              <FreezeButtons agent={a} reload={() => setN((x) => x + 1)} />
            </span>
            {branch(a.id)}
          </li>
        ))}
      </ul>
    );
  };
  return (
    <div class="tree" data-testid="agent-tree">
      {agents.length === 0 ? <p class="muted">{t('common.empty')}</p> : branch(null)}
      {agents.length >= TREE_MAX && <p class="muted">{t('agents.tree_cut', { n: TREE_MAX })}</p>}
    </div>
  );
}

function ListTab() {
  const [bump, setBump] = useState(0);
  const [f, setF] = useState({ name: '', role: 'distributor', parent_id: '' });
  return (
    <>
      <DialogButton label={t('agents.create')} permission="agents:manage">
        {(close) => (
          <Form
            onSubmit={async () => {
              await api.post('/admin/agents', { name: f.name, role: f.role, ...(f.parent_id ? { parent_id: f.parent_id } : {}) });
              close();
              setBump((x) => x + 1);
            }}
          >
            <FieldInput name="name" label={ft('name')} value={f.name} onInput={(v) => setF({ ...f, name: v })} />
            <FieldInput name="role" label={ft('role')} value={f.role} onInput={(v) => setF({ ...f, role: v })} options={options(['distributor', 'sub_agent', 'group_leader'])} />
            <FieldInput name="parent_id" label={ft('parent_id')} value={f.parent_id} onInput={(v) => setF({ ...f, parent_id: v })} />
          </Form>
        )}
      </DialogButton>
      <DataTable<Agent & Record<string, unknown>>
        path="/admin/agents"
        reloadKey={bump}
        exportName="agents"
        filters={[{ key: 'under', label: t('agents.under'), type: 'text' }]}
        columns={[col('id'), col('name'), col('role'), col('parent_id'), col('depth'), col('referral_code'), statusCol(), dateCol('created_at')]}
        rowActions={(a, reload) => <FreezeButtons agent={a} reload={reload} />}
      />
    </>
  );
}

function ApplicationsTab() {
  return (
    <DataTable
      path="/admin/agents/applications"
      exportName="agent-applications"
      filters={[{ key: 'status', label: ft('status'), type: 'select', options: options(['pending', 'approved', 'rejected']) }]}
      columns={[col('id'), col('upline_id'), col('name'), col('phone'), statusCol(), col('self_referral'), col('agent_id'), dateCol('created_at')]}
      rowActions={(r, reload) =>
        r.status === 'pending' &&
        can('agents:manage') && (
          <>
            <ConfirmButton onConfirm={() => api.post(`/admin/agents/applications/${r.id as string}/approve`, {}).then(reload)}>{t('ops.approve')}</ConfirmButton>
            <DialogButton label={t('ops.reject')} danger>
              {(close) => <ReasonForm label={ft('reason')} onSubmit={(reason) => api.post(`/admin/agents/applications/${r.id as string}/reject`, { reason })} done={() => (close(), reload())} />}
            </DialogButton>
          </>
        )
      }
    />
  );
}

export default function AgentsPage() {
  return (
    <div class="page">
      <PageHead title={t('nav.ops.agents')} />
      <Tabs
        tabs={[
          { key: 'tree', label: t('agents.tab_tree'), render: () => <TreeTab /> },
          { key: 'list', label: t('agents.tab_list'), render: () => <ListTab /> },
          { key: 'applications', label: t('agents.tab_applications'), render: () => <ApplicationsTab /> },
          { key: 'rules', label: t('agents.tab_rules'), permission: 'commissions:read', render: () => <CommissionRulesTab /> },
          { key: 'commissions', label: t('agents.tab_commissions'), permission: 'commissions:read', render: () => <CommissionsTab /> },
        ]}
      />
    </div>
  );
}
