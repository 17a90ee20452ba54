import type { ComponentChildren } from 'preact';
import { withQuery, type Page, type Query } from '../../lib/api';
import { t } from '../../lib/i18n';
import { downloadCsv, downloadXlsx, type Column, type Row } from '../../components';
import { exportColumns, TableView } from '../../components/DataTable';
import { ErrorText, useResource } from './kit';

/**
 * A table for the few lists the server returns whole (no cursor: risk rules,
 * level rules, the stock of one SKU). Same look and export as DataTable,
 * which always pages and so would send a `limit` these routes refuse.
 */
export function StaticTable<R extends Row = Row>(props: { path: string; query?: Query; columns: Column<R>[]; rowActions?: (row: R, reload: () => void) => ComponentChildren; exportName?: string; reloadKey?: unknown; rowKey?: (row: R) => string }) {
  const r = useResource<Page<R>>(withQuery(props.path, props.query), [props.reloadKey]);
  const rows = r.data?.data ?? [];
  const exportCols = exportColumns(props.columns);
  return (
    <div class="datatable">
      {props.exportName && (
        <div class="toolbar">
          <span class="toolbar-right">
            <button type="button" onClick={() => downloadCsv(props.exportName!, exportCols, rows)}>
              {t('table.export_csv')}
            </button>
            <button type="button" onClick={() => void downloadXlsx(props.exportName!, exportCols, rows)}>
              {t('table.export_xlsx')}
            </button>
          </span>
        </div>
      )}
      <ErrorText error={r.error} />
      <TableView columns={props.columns} rows={rows} loading={r.loading} rowKey={props.rowKey} rowActions={props.rowActions} reload={r.reload} />
      <div class="table-foot">
        <span class="muted">{r.loading ? t('common.loading') : t('table.rows', { rows: rows.length })}</span>
      </div>
    </div>
  );
}
