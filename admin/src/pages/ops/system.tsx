import { useState } from 'preact/hooks';
import { api } from '../../lib/api';
import { t } from '../../lib/i18n';
import { ConfirmButton, DataTable, Form } from '../../components';
// One source for roles: the server's own table (a plain module with no imports), so the matrix cannot drift.
import { permissions, rolePermissions, roles } from '../../../../src/modules/auth/permissions';
import { DialogButton, FieldInput, KeyValues, PageHead, StatusBadge, Tabs, can, col, dateCol, ft, options, statusCol } from './kit';

const webhookEvents = ['order.created', 'order.paid', 'order.delivered', 'order.refunded', 'order.cancelled', 'stock.low', 'supplier.down', 'after_sales.decided'];

interface Staff {
  id: string;
  name: string;
  role: string;
  disabled: boolean;
}

function StaffForm(props: { user?: Staff; done: () => void }) {
  const u = props.user;
  const [f, setF] = useState({ email: '', name: u?.name ?? '', role: u?.role ?? 'support', password: '', disabled: String(u?.disabled ?? false) });
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  return (
    <Form
      onSubmit={async () => {
        if (u) await api.patch(`/admin/staff/${u.id}`, { name: f.name, role: f.role, disabled: f.disabled === 'true' });
        else await api.post('/admin/staff', { email: f.email, name: f.name, role: f.role, password: f.password });
        props.done();
      }}
    >
      {!u && <FieldInput name="email" label={ft('email')} value={f.email} onInput={set('email')} type="email" />}
      <FieldInput name="name" label={ft('name')} value={f.name} onInput={set('name')} />
      <FieldInput name="role" label={ft('role')} value={f.role} onInput={set('role')} options={options(roles)} />
      {!u && <FieldInput name="password" label={ft('password')} value={f.password} onInput={set('password')} type="password" />}
      {u && <FieldInput name="disabled" label={ft('disabled')} value={f.disabled} onInput={set('disabled')} options={[{ value: 'false', label: t('common.no') }, { value: 'true', label: t('common.yes') }]} />}
    </Form>
  );
}

function StaffTab() {
  const [bump, setBump] = useState(0);
  return (
    <>
      <DialogButton label={t('sys.new_staff')} permission="staff:manage">
        {(close) => <StaffForm done={() => (close(), setBump((x) => x + 1))} />}
      </DialogButton>
      <DataTable<Staff & Record<string, unknown>>
        path="/admin/staff"
        reloadKey={bump}
        exportName="staff"
        columns={[col('id'), col('email'), col('name'), col('role'), col('totp_enabled'), col('disabled'), dateCol('last_login_at'), dateCol('created_at')]}
        rowActions={(r, reload) => (
          <DialogButton label={t('ops.edit')} permission="staff:manage">
            {(close) => <StaffForm user={r} done={() => (close(), reload())} />}
          </DialogButton>
        )}
      />
    </>
  );
}

function RolesTab() {
  return (
    <div class="table-wrap">
      <table class="matrix" data-testid="role-matrix">
        <thead>
          <tr>
            <th>{ft('permission')}</th>
            {roles.map((r) => (
              <th key={r}>{r}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {permissions.map((p) => (
            <tr key={p}>
              <td>
                <code>{p}</code>
              </td>
              {roles.map((r) => (
                <td key={r}>{rolePermissions[r].has(p) ? '✓' : ''}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A new key's secret is shown once, here, and never again. */
function KeysTab() {
  const [f, setF] = useState({ owner_type: 'partner', owner_id: '', name: '' });
  const { secret, bump, issue } = useIssuedSecret();
  return (
    <>
      <DialogButton label={t('sys.new_key')}>
        {(close) => (
          <Form
            onSubmit={() => issue('/admin/api-keys', f, close)}
          >
            <OwnerFields f={f} setF={setF} />
            <FieldInput name="name" label={ft('name')} value={f.name} onInput={(v) => setF({ ...f, name: v })} />
          </Form>
        )}
      </DialogButton>
      <SecretOnce secret={secret} />
      <DataTable
        path="/admin/api-keys"
        reloadKey={bump}
        exportName="api-keys"
        columns={[col('id'), col('owner_type'), col('owner_id'), col('name'), dateCol('last_used_at'), dateCol('revoked_at'), dateCol('created_at')]}
        rowActions={(r, reload) =>
          !r.revoked_at && (
            <ConfirmButton danger message={t('sys.revoke_confirm', { name: r.name as string })} onConfirm={() => api.del(`/admin/api-keys/${r.id as string}`).then(reload)}>
              {t('sys.revoke')}
            </ConfirmButton>
          )
        }
      />
    </>
  );
}

function WebhooksTab() {
  const [f, setF] = useState({ owner_type: 'partner', owner_id: '', url: '', events: 'order.paid, order.delivered' });
  const { secret, setSecret, bump, issue } = useIssuedSecret();
  return (
    <>
      <DialogButton label={t('sys.new_endpoint')} wide>
        {(close) => (
          <Form
            onSubmit={() => issue('/admin/webhooks/endpoints', { ...f, events: f.events.split(/[\s,]+/).filter(Boolean) }, close)}
          >
            <OwnerFields f={f} setF={setF} />
            <FieldInput name="url" label={ft('url')} value={f.url} onInput={(v) => setF({ ...f, url: v })} type="url" />
            <FieldInput name="events" label={ft('events')} value={f.events} onInput={(v) => setF({ ...f, events: v })} hint={webhookEvents.join(', ')} />
          </Form>
        )}
      </DialogButton>
      <SecretOnce secret={secret} />
      <DataTable
        path="/admin/webhooks/endpoints"
        reloadKey={bump}
        exportName="webhook-endpoints"
        columns={[col('id'), col('owner_type'), col('owner_id'), col('url'), col('events', (r) => (r.events as string[]).join(', ')), statusCol(), dateCol('created_at')]}
        rowActions={(r, reload) => (
          <>
            <ConfirmButton message={t('sys.rotate_confirm')} onConfirm={() => api.post<Issued>(`/admin/webhooks/endpoints/${r.id as string}/rotate-secret`, {}).then(setSecret)}>
              {t('sys.rotate')}
            </ConfirmButton>
            <ConfirmButton danger onConfirm={() => api.del(`/admin/webhooks/endpoints/${r.id as string}`).then(reload)}>
              {t('ops.delete')}
            </ConfirmButton>
          </>
        )}
      />
      <h3>{t('sys.deliveries')}</h3>
      <DataTable
        path="/admin/webhooks/deliveries"
        exportName="webhook-deliveries"
        filters={[
          { key: 'status', label: ft('status'), type: 'select', options: options(['pending', 'succeeded', 'dead', 'cancelled']) },
          { key: 'endpoint_id', label: ft('endpoint_id'), type: 'text' },
        ]}
        columns={[col('id'), col('event_type'), col('endpoint_id'), col('url'), col('status', (r) => <StatusBadge value={r.status as string} />), col('attempts'), col('last_status_code'), col('last_error'), dateCol('next_attempt_at'), dateCol('delivered_at')]}
        rowActions={(r, reload) => <ConfirmButton onConfirm={() => api.post(`/admin/webhooks/deliveries/${r.id as string}/redeliver`, {}).then(reload)}>{t('sys.redeliver')}</ConfirmButton>}
      />
    </>
  );
}

export default function SystemPage() {
  return (
    <div class="page">
      <PageHead title={t('nav.ops.system')} />
      <Tabs
        tabs={[
          { key: 'staff', label: t('sys.tab_staff'), render: () => <StaffTab /> },
          { key: 'roles', label: t('sys.tab_roles'), render: () => <RolesTab /> },
          ...(can('apikeys:manage')
            ? [
                { key: 'keys', label: t('sys.tab_keys'), render: () => <KeysTab /> },
                { key: 'webhooks', label: t('sys.tab_webhooks'), render: () => <WebhooksTab /> },
              ]
            : []),
        ]}
      />
    </div>
  );
}

export type Issued = { id: string; secret: string };

/** Creating a credential answers its secret once: keep it to show, close the dialog, reload the list. */
function useIssuedSecret() {
  const [bump, setBump] = useState(0);
  const [secret, setSecret] = useState<Issued | null>(null);
  const issue = async (path: string, body: unknown, close: () => void) => {
    setSecret(await api.post<Issued>(path, body));
    close();
    setBump((x) => x + 1);
  };
  return { secret, setSecret, bump, issue };
}

/** Who a credential belongs to: a partner or an agent, by id. */
function OwnerFields<F extends { owner_type: string; owner_id: string }>({ f, setF }: { f: F; setF: (f: F) => void }) {
  return (
    <>
      <FieldInput name="owner_type" label={ft('owner_type')} value={f.owner_type} onInput={(v) => setF({ ...f, owner_type: v })} options={options(['partner', 'agent'])} />
      <FieldInput name="owner_id" label={ft('owner_id')} value={f.owner_id} onInput={(v) => setF({ ...f, owner_id: v })} />
    </>
  );
}

/** A freshly issued secret (API key, webhook signing secret): shown this once, never listed again. */
export function SecretOnce({ secret }: { secret: Issued | null }) {
  if (!secret) return null;
  return (
    <div class="ops-card">
      <p class="bad-text">{t('sys.secret_once')}</p>
      <KeyValues rows={[[ft('id'), secret.id], [t('sys.secret'), <code>{secret.secret}</code>]]} />
    </div>
  );
}
