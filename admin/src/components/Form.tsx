import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useContext, useState } from 'preact/hooks';
import { ApiError } from '../lib/api';
import { t } from '../lib/i18n';

interface FieldIssue {
  field: string;
  message: string;
}
const FormErrorContext = createContext<ApiError | null>(null);

function issuesOf(err: ApiError | null): FieldIssue[] {
  if (!err || !Array.isArray(err.details)) return [];
  return (err.details as unknown[]).filter((d): d is FieldIssue => typeof d === 'object' && d !== null && typeof (d as FieldIssue).field === 'string');
}

/**
 * A form whose submit handler may throw an ApiError: the message shows above
 * the buttons and each field issue next to the Field of the same name.
 */
export function Form(props: { onSubmit: () => Promise<unknown>; submitLabel?: string; children: ComponentChildren; class?: string; disabled?: boolean }) {
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await props.onSubmit();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, 'CLIENT', err instanceof Error ? err.message : String(err), null, null));
    } finally {
      setBusy(false);
    }
  };
  return (
    <FormErrorContext.Provider value={error}>
      <form class={`form ${props.class ?? ''}`.trim()} onSubmit={submit} noValidate>
        {props.children}
        {error && (
          <p class="error" role="alert" data-testid="form-error">
            {error.message}
          </p>
        )}
        <div class="form-actions">
          <button type="submit" class="primary" disabled={busy || props.disabled}>
            {busy ? t('common.loading') : (props.submitLabel ?? t('common.save'))}
          </button>
        </div>
      </form>
    </FormErrorContext.Provider>
  );
}

/** A labelled input slot; `name` is the server's field name ("name", "skus.0.name"). */
export function Field(props: { name: string; label: string; children: ComponentChildren; hint?: string }) {
  const error = useContext(FormErrorContext);
  const issues = issuesOf(error).filter((i) => i.field === props.name || i.field.startsWith(`${props.name}.`));
  const own = issues.length > 0 ? issues.map((i) => i.message).join('; ') : error?.field === props.name ? error.message : null;
  return (
    <label class={`field${own ? ' has-error' : ''}`}>
      <span class="field-label">{props.label}</span>
      {props.children}
      {props.hint && !own && <span class="field-hint">{props.hint}</span>}
      {own && (
        <span class="field-error" data-field-error={props.name}>
          {own}
        </span>
      )}
    </label>
  );
}
