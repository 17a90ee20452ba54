import { useState } from 'preact/hooks';
import { api, ApiError } from '../lib/api';
import { refreshMe } from '../lib/auth';
import { t, useLocale } from '../lib/i18n';
import { LocaleSwitch } from './locale-switch';

/**
 * Password first; if the account has a second factor the server answers
 * OTP_REQUIRED and we ask for the code. Either step may meet the risk gate's
 * CHALLENGE_REQUIRED: the browser then does the captcha's proof of work.
 */
export function Login() {
  useLocale();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [otp, setOtp] = useState('');
  const [step, setStep] = useState<'password' | 'otp'>('password');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** Share of the captcha's proof of work searched so far (percent), while the browser solves it. */
  const [verifying, setVerifying] = useState<number | null>(null);

  /** The login call; if the risk gate asks for proof of a human, solves the captcha once and retries with it. */
  const attempt = async (body: Record<string, string>) => {
    try {
      return await api.post('/admin/auth/login', body, {});
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'CHALLENGE_REQUIRED')) throw err;
      setVerifying(0);
      try {
        const { solveCaptcha } = await import('../lib/captcha');
        const captcha = await solveCaptcha((share) => setVerifying(Math.floor(share * 100)));
        // A second CHALLENGE_REQUIRED (wrong or expired solution) reaches the form with the server's message.
        return await api.post('/admin/auth/login', body, { captcha });
      } finally {
        setVerifying(null);
      }
    }
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await attempt(step === 'otp' ? { email, password, otp } : { email, password });
      await refreshMe();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'OTP_REQUIRED') {
        setStep('otp');
      } else {
        setError(err instanceof Error ? err.message : String(err));
        if (step === 'otp') setOtp('');
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="login-page">
      <form class="login-card" onSubmit={submit} data-testid="login-form">
        <div class="login-head">
          <h1>{t('login.title')}</h1>
          <LocaleSwitch />
        </div>
        {step === 'password' ? (
          <>
            <label class="field">
              <span class="field-label">{t('login.email')}</span>
              <input name="email" type="email" autoComplete="username" required value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
            </label>
            <label class="field">
              <span class="field-label">{t('login.password')}</span>
              <input name="password" type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
            </label>
          </>
        ) : (
          <label class="field">
            <span class="field-label">{t('login.otp')}</span>
            <input
              name="otp"
              inputMode="numeric"
              autoComplete="one-time-code"
              pattern="\d{6}"
              maxLength={6}
              autoFocus
              required
              value={otp}
              onInput={(e) => setOtp((e.target as HTMLInputElement).value.replace(/\D/g, ''))}
            />
            <span class="field-hint">{t('login.otp_hint')}</span>
          </label>
        )}
        {verifying !== null && (
          <p class="field-hint" role="status" data-testid="captcha-progress">
            {t('login.verifying', { percent: verifying })}
          </p>
        )}
        {error && (
          <p class="error" role="alert" data-testid="login-error">
            {t('login.failed', { message: error })}
          </p>
        )}
        <div class="form-actions">
          {step === 'otp' && (
            <button type="button" onClick={() => (setStep('password'), setOtp(''), setError(null))}>
              {t('login.back')}
            </button>
          )}
          <button type="submit" class="primary" disabled={busy}>
            {step === 'otp' ? t('login.verify') : t('login.submit')}
          </button>
        </div>
      </form>
    </div>
  );
}
