import { useMe } from '../../lib/auth';
import { formatDateTime, t, useLocale } from '../../lib/i18n';
import { Badge } from '../../components';
import { KeyValues, PageHead, StatusBadge, useResource } from './kit';

interface Health {
  status: string;
  checks?: Record<string, string>;
}

/**
 * What this panel can see of the running system: the signed-in account and
 * its permissions, and the service's health and readiness. Configuration
 * lives in environment variables on the server (see README); nothing here edits it.
 */
export default function SettingsPage() {
  const me = useMe();
  const [locale] = useLocale();
  const health = useResource<Health>('/healthz');
  const ready = useResource<Health>('/readyz');
  if (!me) return null;
  return (
    <div class="page">
      <PageHead title={t('nav.ops.settings')} />
      <p class="muted">{t('set.read_only')}</p>
      <div class="ops-grid">
        <section class="ops-card">
          <h2>{t('set.account')}</h2>
          <KeyValues
            rows={[
              [t('set.email'), me.user.email],
              [t('set.name'), me.user.name],
              [t('set.role'), me.user.role],
              [t('set.totp'), me.user.totp_enabled ? t('common.yes') : t('common.no')],
              [t('set.last_login'), formatDateTime(me.user.last_login_at)],
              [t('set.locale'), locale],
            ]}
          />
          <h3>{t('set.permissions')}</h3>
          <p data-testid="my-permissions">
            {me.permissions.map((p) => (
              <Badge key={p} tone="info">
                {p}
              </Badge>
            ))}
          </p>
        </section>
        <section class="ops-card" data-testid="health">
          <h2>{t('set.health')}</h2>
          <KeyValues
            rows={[
              ['/healthz', health.data ? <StatusBadge value={health.data.status} /> : (health.error ?? t('common.loading'))],
              ['/readyz', ready.data ? <StatusBadge value={ready.data.status} /> : (ready.error ?? t('common.loading'))],
              ...Object.entries(ready.data?.checks ?? {}).map(([k, v]): [string, preact.ComponentChildren] => [k, <StatusBadge value={v} />]),
            ]}
          />
        </section>
      </div>
    </div>
  );
}
