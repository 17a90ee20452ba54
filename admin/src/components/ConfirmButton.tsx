import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError } from '../lib/api';
import { t } from '../lib/i18n';
import { Modal } from './Modal';

/** A button that asks first, then runs `onConfirm`, showing the server's error in the dialog if it fails. */
export function ConfirmButton(props: {
  onConfirm: () => Promise<unknown> | void;
  children: ComponentChildren;
  message?: ComponentChildren;
  title?: string;
  danger?: boolean;
  disabled?: boolean;
  class?: string;
}) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm();
      setOpen(false);
    } catch (e) {
      setError(e instanceof ApiError || e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class={`${props.danger ? 'danger' : ''} ${props.class ?? ''}`.trim()} disabled={props.disabled} onClick={() => setOpen(true)}>
        {props.children}
      </button>
      <Modal
        open={open}
        title={props.title ?? t('confirm.title')}
        onClose={() => !busy && setOpen(false)}
        footer={
          <>
            <button type="button" onClick={() => setOpen(false)} disabled={busy}>
              {t('common.cancel')}
            </button>
            <button type="button" class={props.danger ? 'danger' : 'primary'} onClick={run} disabled={busy} data-testid="confirm-ok">
              {t('common.confirm')}
            </button>
          </>
        }
      >
        <p>{props.message ?? t('confirm.sure')}</p>
        {error && <p class="error">{error}</p>}
      </Modal>
    </>
  );
}
