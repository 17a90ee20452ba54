import { useEffect, useState } from 'preact/hooks';
import { api } from '../lib/api';
import { refreshMe, useMe } from '../lib/auth';
import { t } from '../lib/i18n';
import { Field, Form } from '../components/Form';
import { Badge } from '../components/Badge';

/** Own account: second-factor enrolment (secret + QR code, then confirm with a code). */
export default function AccountPage() {
  const me = useMe();
  const [enrol, setEnrol] = useState<{ secret: string; otpauth_url: string } | null>(null);
  const [qr, setQr] = useState<string | null>(null);
  const [otp, setOtp] = useState('');
  useEffect(() => {
    if (!enrol) return;
    // qrcode is loaded only here.
    void import('qrcode').then((m) => m.toDataURL(enrol.otpauth_url, { margin: 1, width: 192 })).then(setQr);
  }, [enrol]);
  if (!me) return null;
  return (
    <div class="page narrow">
      <h2>{t('account.title')}</h2>
      <dl class="kv">
        <dt>{t('login.email')}</dt>
        <dd>{me.user.email}</dd>
        <dt>{t('layout.role', { role: '' }).replace(/[:：]\s*$/, '')}</dt>
        <dd>{me.user.role}</dd>
      </dl>
      {me.user.totp_enabled ? (
        <p>
          <Badge tone="ok">{t('account.totp_on')}</Badge>
        </p>
      ) : !enrol ? (
        <>
          <p>{t('account.totp_off')}</p>
          <button type="button" class="primary" onClick={() => void api.post<{ secret: string; otpauth_url: string }>('/admin/auth/totp/enroll').then(setEnrol)}>
            {t('account.totp_start')}
          </button>
        </>
      ) : (
        <>
          <p>{t('account.totp_scan')}</p>
          {qr && <img src={qr} alt="otpauth QR" width={192} height={192} />}
          <p>
            <code data-testid="totp-secret">{enrol.secret}</code>
          </p>
          <Form
            submitLabel={t('account.totp_confirm')}
            onSubmit={async () => {
              await api.post('/admin/auth/totp/confirm', { otp });
              await refreshMe();
            }}
          >
            <Field name="otp" label={t('login.otp')}>
              <input name="otp" inputMode="numeric" maxLength={6} value={otp} onInput={(e) => setOtp((e.target as HTMLInputElement).value.replace(/\D/g, ''))} />
            </Field>
          </Form>
        </>
      )}
    </div>
  );
}
