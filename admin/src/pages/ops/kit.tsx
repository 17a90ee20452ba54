import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, newIdempotencyKey, type Page } from '../../lib/api';
import { can } from '../../lib/auth';
import { formatDateTime, t, type MessageKey } from '../../lib/i18n';
import { replaceQuery, useRoute } from '../../lib/router';
import { Badge, Field as FieldShell, Form, Modal, type BadgeTone, type Column, type Row } from '../../components';
import './ops.css';

/**
 * Small pieces every operational page shares: tabs kept in the URL, column
 * helpers whose titles come from the `f.*` dictionary (a misspelt field is a
 * type error), status badges, and a button that opens a form in a dialog.
 */
export type FieldName = MessageKey extends infer K ? (K extends `f.${infer N}` ? N : never) : never;
export const ft = (name: FieldName) => t(`f.${name}` as MessageKey);

export function col<R extends Row = Row>(key: FieldName, render?: (row: R) => ComponentChildren, exportValue?: (row: R) => unknown): Column<R> {
  return { key, title: ft(key), render, exportValue };
}
export const dateCol = <R extends Row = Row>(key: FieldName): Column<R> => col<R>(key, (r) => formatDateTime(r[key] as string | null));

const tones: Record<string, BadgeTone> = {
  active: 'ok', completed: 'ok', delivered: 'ok', paid: 'ok', approved: 'ok', healthy: 'ok', up: 'ok', enforce: 'info', succeeded: 'ok', resolved: 'ok', allow: 'ok', available: 'ok',
  pending: 'warn', running: 'warn', shadow: 'warn', review: 'warn', degraded: 'warn', upcoming: 'info', frozen: 'bad', open: 'warn', in_review: 'warn', challenge: 'warn', pending_second_approval: 'warn',
  rejected: 'bad', failed: 'bad', down: 'bad', block: 'bad', cancelled: 'muted', refunded: 'muted', ended: 'muted', voided: 'muted', disabled: 'muted', expired: 'muted', revoked: 'muted',
};
export function StatusBadge(props: { value: string | null | undefined }) {
  if (!props.value) return <span class="muted">—</span>;
  return <Badge tone={tones[props.value] ?? 'info'}>{props.value}</Badge>;
}
export const statusCol = <R extends Row = Row>(key: FieldName = 'status'): Column<R> => col<R>(key, (r) => <StatusBadge value={r[key] as string} />);

export function options(values: readonly string[]) {
  return values.map((v) => ({ value: v, label: v }));
}

/** Tabs whose choice lives in the hash query (`?tab=`), so a link or reload opens the same tab. */
export function Tabs(props: { tabs: { key: string; label: string; permission?: string; render: () => ComponentChildren }[] }) {
  const route = useRoute();
  const visible = props.tabs.filter((tab) => !tab.permission || can(tab.permission));
  const current = visible.find((tab) => tab.key === route.query.get('tab')) ?? visible[0];
  return (
    <div class="ops-tabs">
      <nav class="tab-bar" role="tablist">
        {visible.map((tab) => (
          <button type="button" role="tab" key={tab.key} aria-selected={tab === current} class={tab === current ? 'tab active' : 'tab'} onClick={() => replaceQuery({ tab: tab.key })}>
            {tab.label}
          </button>
        ))}
      </nav>
      <div class="tab-body" key={current?.key}>
        {current?.render()}
      </div>
    </div>
  );
}

export function PageHead(props: { title: string; children?: ComponentChildren }) {
  return (
    <header class="page-head">
      <h1>{props.title}</h1>
      {props.children && <div class="page-head-actions">{props.children}</div>}
    </header>
  );
}

/** A button that opens `children` (usually a Form) in a dialog; `close` is handed to the form for success. */
export function DialogButton(props: { label: string; title?: string; permission?: string; danger?: boolean; wide?: boolean; children: (close: () => void) => ComponentChildren; testId?: string }) {
  const [open, setOpen] = useState(false);
  if (props.permission && !can(props.permission)) return null;
  return (
    <>
      <button type="button" class={props.danger ? 'danger' : ''} onClick={() => setOpen(true)} data-testid={props.testId}>
        {props.label}
      </button>
      <Modal open={open} title={props.title ?? props.label} onClose={() => setOpen(false)} wide={props.wide}>
        {open && props.children(() => setOpen(false))}
      </Modal>
    </>
  );
}

/** A form asking for one text (a reason, a payment reference) then posting it; the server's field error shows beside it. */
export function ReasonForm(props: { field?: string; label: string; submitLabel?: string; minLength?: number; onSubmit: (value: string) => Promise<unknown>; done: () => void }) {
  const [value, setValue] = useState('');
  const field = props.field ?? 'reason';
  return (
    <Form
      submitLabel={props.submitLabel ?? t('common.confirm')}
      onSubmit={async () => {
        await props.onSubmit(value.trim());
        props.done();
      }}
    >
      <FieldInput name={field} label={props.label} value={value} onInput={setValue} textarea />
    </Form>
  );
}

/** The common input of our forms: the Field shows the server's error for `name`. */
export function FieldInput(props: { name: string; label: string; value: string; onInput: (v: string) => void; type?: string; textarea?: boolean; placeholder?: string; hint?: string; options?: { value: string; label: string }[] }) {
  const onInput = (e: Event) => props.onInput((e.target as HTMLInputElement).value);
  return (
    <FieldShell name={props.name} label={props.label} hint={props.hint}>
      {props.options ? (
        <select name={props.name} value={props.value} onChange={onInput}>
          {props.options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      ) : props.textarea ? (
        <textarea name={props.name} value={props.value} onInput={onInput} placeholder={props.placeholder} rows={4} />
      ) : (
        <input name={props.name} type={props.type ?? 'text'} value={props.value} onInput={onInput} placeholder={props.placeholder} />
      )}
    </FieldShell>
  );
}

/** Loads one resource; `reload` fetches it again. */
export function useResource<T>(path: string | null, deps: unknown[] = []): { data: T | null; error: string | null; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data: T | null; error: string | null; loading: boolean }>({ data: null, error: null, loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    if (!path) return;
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    api.get<T>(path).then(
      (data) => live && setState({ data, error: null, loading: false }),
      (e: unknown) => live && setState({ data: null, error: e instanceof Error ? e.message : String(e), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [path, n, ...deps]);
  return { ...state, reload: () => setN((x) => x + 1) };
}

/** SKUs for pickers (the first 100 products are plenty for a picker; the id can always be typed). */
export function useSkuOptions(): { value: string; label: string }[] {
  const { data } = useResource<Page<{ name: string; skus: { id: string; name: string }[] }>>('/admin/products?limit=100');
  return (data?.data ?? []).flatMap((p) => p.skus.map((s) => ({ value: s.id, label: `${p.name} / ${s.name}` })));
}

export function ErrorText(props: { error: string | null }) {
  return props.error ? (
    <p class="error" role="alert">
      {t('common.error', { message: props.error })}
    </p>
  ) : null;
}

export function KeyValues(props: { rows: [string, ComponentChildren][] }) {
  return (
    <dl class="kv">
      {props.rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v ?? '—'}</dd>
        </div>
      ))}
    </dl>
  );
}

export const json = (v: unknown) => <pre class="json">{JSON.stringify(v, null, 2)}</pre>;
export const idem = () => ({ idempotencyKey: newIdempotencyKey() });

/**
 * Keys for a form's retriable write: resubmitting the same body reuses its key
 * (a retry after a timeout is done once), a changed body gets a new one (so a
 * corrected request is not mistaken for a conflicting replay).
 */
export function useIdempotency(): (body: unknown) => { idempotencyKey: string } {
  const keys = useRef(new Map<string, string>());
  return (body) => {
    const fingerprint = JSON.stringify(body);
    let key = keys.current.get(fingerprint);
    if (!key) keys.current.set(fingerprint, (key = newIdempotencyKey()));
    return { idempotencyKey: key };
  };
}
export const yuanToFen = (v: string) => (v.trim() === '' ? Number.NaN : Math.round(Number(v) * 100));
export const intOrUndefined = (v: string) => (v.trim() === '' ? undefined : Number(v));
export const messageOf = (e: unknown) => (e instanceof ApiError || e instanceof Error ? e.message : String(e));
export { can };
