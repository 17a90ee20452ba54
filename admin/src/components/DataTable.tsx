import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, type Page, type Query } from '../lib/api';
import { t } from '../lib/i18n';
import { ProgressBar } from './ProgressBar';
import { downloadCsv, downloadXlsx, type ExportColumn } from './export';

export type Row = Record<string, unknown>;
export interface Column<R extends Row = Row> {
  key: string;
  title: string;
  render?: (row: R) => ComponentChildren;
  /** The value written to CSV/XLSX (default: row[key]). */
  exportValue?: (row: R) => unknown;
}
export interface Filter {
  key: string;
  label: string;
  type: 'text' | 'select' | 'date';
  options?: { value: string; label: string }[];
}

const EXPORT_PAGE = 100;
const EXPORT_MAX_ROWS = 100_000;

/**
 * A server-paginated list: filters become query parameters, "load more"
 * follows `next_cursor`, and export walks every page of the filtered list
 * (CSV or XLSX) with a progress bar.
 */
export function DataTable<R extends Row = Row>(props: {
  path: string;
  columns: Column<R>[];
  filters?: Filter[];
  query?: Query;
  rowActions?: (row: R, reload: () => void) => ComponentChildren;
  exportName?: string;
  pageSize?: number;
  rowKey?: (row: R) => string;
  /** Bump to reload from the first page (e.g. after a create form outside the table). */
  reloadKey?: unknown;
}) {
  const [draft, setDraft] = useState<Record<string, string>>({});
  const [applied, setApplied] = useState<Record<string, string>>({});
  const [rows, setRows] = useState<R[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [hasMore, setHasMore] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [exporting, setExporting] = useState<{ rows: number; done: boolean } | null>(null);
  const generation = useRef(0);

  const baseQuery = useMemo<Query>(() => ({ ...props.query, ...applied }), [JSON.stringify(props.query ?? {}), applied]);

  const load = useCallback(
    async (after: string | null) => {
      const gen = after ? generation.current : ++generation.current;
      setLoading(true);
      setError(null);
      try {
        const page = await api.get<Page<R>>(props.path, { ...baseQuery, limit: props.pageSize ?? 20, cursor: after ?? undefined });
        if (gen !== generation.current) return; // a newer filter won
        setRows((prev) => (after ? [...prev, ...page.data] : page.data));
        setCursor(page.next_cursor);
        setHasMore(page.has_more);
      } catch (e) {
        if (gen === generation.current) setError(e instanceof ApiError || e instanceof Error ? e.message : String(e));
      } finally {
        if (gen === generation.current) setLoading(false);
      }
    },
    [props.path, baseQuery, props.pageSize],
  );
  const reload = useCallback(() => void load(null), [load]);
  useEffect(reload, [reload, props.reloadKey]);

  const exportAll = async (format: 'csv' | 'xlsx') => {
    const all: R[] = [];
    setExporting({ rows: 0, done: false });
    try {
      let after: string | null = null;
      do {
        const page: Page<R> = await api.get<Page<R>>(props.path, { ...baseQuery, limit: EXPORT_PAGE, cursor: after ?? undefined });
        all.push(...page.data);
        setExporting({ rows: all.length, done: false });
        after = page.has_more ? page.next_cursor : null;
      } while (after && all.length < EXPORT_MAX_ROWS);
      const columns = exportColumns(props.columns);
      const name = props.exportName ?? 'export';
      if (format === 'csv') downloadCsv(name, columns, all);
      else await downloadXlsx(name, columns, all);
      setExporting({ rows: all.length, done: true });
    } catch (e) {
      setExporting(null);
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  const apply = (e: Event) => {
    e.preventDefault();
    setApplied(Object.fromEntries(Object.entries(draft).filter(([, v]) => v !== '')));
  };

  return (
    <div class="datatable">
      {(props.filters?.length || props.exportName) && (
        <form class="toolbar" onSubmit={apply}>
          {props.filters?.map((f) => (
            <label class="filter" key={f.key}>
              <span>{f.label}</span>
              {f.type === 'select' ? (
                <select name={f.key} value={draft[f.key] ?? ''} onChange={(e) => setDraft({ ...draft, [f.key]: (e.target as HTMLSelectElement).value })}>
                  <option value="">{t('common.all')}</option>
                  {f.options?.map((o) => (
                    <option key={o.value} value={o.value}>
                      {o.label}
                    </option>
                  ))}
                </select>
              ) : (
                <input name={f.key} type={f.type === 'date' ? 'date' : 'text'} value={draft[f.key] ?? ''} onInput={(e) => setDraft({ ...draft, [f.key]: (e.target as HTMLInputElement).value })} />
              )}
            </label>
          ))}
          {props.filters?.length ? (
            <>
              <button type="submit" class="primary">
                {t('common.search')}
              </button>
              <button
                type="button"
                onClick={() => {
                  setDraft({});
                  setApplied({});
                }}
              >
                {t('common.reset')}
              </button>
            </>
          ) : null}
          {props.exportName && (
            <span class="toolbar-right">
              <button type="button" disabled={!!exporting && !exporting.done} onClick={() => void exportAll('csv')}>
                {t('table.export_csv')}
              </button>
              <button type="button" disabled={!!exporting && !exporting.done} onClick={() => void exportAll('xlsx')}>
                {t('table.export_xlsx')}
              </button>
            </span>
          )}
        </form>
      )}
      {exporting && <ProgressBar value={exporting.rows} max={exporting.done ? exporting.rows || 1 : undefined} label={t(exporting.done ? 'table.export_done' : 'table.exporting', { rows: exporting.rows })} />}
      {error && (
        <p class="error" role="alert">
          {t('common.error', { message: error })}{' '}
          <button type="button" onClick={reload}>
            {t('common.retry')}
          </button>
        </p>
      )}
      <TableView columns={props.columns} rows={rows} loading={loading} rowKey={props.rowKey} rowActions={props.rowActions} reload={reload} />
      <div class="table-foot">
        <span class="muted">{t('table.rows', { rows: rows.length })}</span>
        {loading && <span class="muted">{t('common.loading')}</span>}
        {hasMore && !loading && (
          <button type="button" onClick={() => void load(cursor)}>
            {t('common.more')}
          </button>
        )}
      </div>
    </div>
  );
}

/** The table itself, shared by DataTable (paged) and the ops StaticTable (whole lists). */
export function TableView<R extends Row>(props: {
  columns: Column<R>[];
  rows: R[];
  loading: boolean;
  rowKey?: (row: R) => string;
  rowActions?: (row: R, reload: () => void) => ComponentChildren;
  reload: () => void;
}) {
  const { columns, rowActions } = props;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.key}>{c.title}</th>
            ))}
            {rowActions && <th>{t('common.actions')}</th>}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row, i) => (
            <tr key={props.rowKey ? props.rowKey(row) : String(row.id ?? i)}>
              {columns.map((c) => (
                <td key={c.key}>{c.render ? c.render(row) : displayValue(row[c.key])}</td>
              ))}
              {rowActions && <td class="actions">{rowActions(row, props.reload)}</td>}
            </tr>
          ))}
          {!props.loading && props.rows.length === 0 && (
            <tr>
              <td class="empty" colSpan={columns.length + (rowActions ? 1 : 0)}>
                {t('common.empty')}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

/** Table columns as export columns: `exportValue` when given, else the raw field. */
export function exportColumns<R extends Row>(columns: Column<R>[]): ExportColumn<R>[] {
  return columns.map((c) => ({ title: c.title, value: (row) => (c.exportValue ? c.exportValue(row) : row[c.key]) }));
}

function displayValue(v: unknown): ComponentChildren {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return v ? t('common.yes') : t('common.no');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
