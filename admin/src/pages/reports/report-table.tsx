import type { ComponentChildren, JSX } from 'preact';
import { t } from '../../lib/i18n';
import { ReportState, type ReportResult } from './shared';

export interface ReportColumn<R> {
  title: ComponentChildren;
  /** Right-aligned number column (header, cells and footer). */
  num?: boolean;
  cell: (row: R) => ComponentChildren;
  /** Attributes of the cell itself, for cells that style by value (the cohort heat map); replaces `num` on the body cell. */
  td?: (row: R) => JSX.HTMLAttributes<HTMLTableCellElement>;
  /** A footer (totals) cell; the footer row is drawn when any column has one. */
  foot?: ComponentChildren;
}

/** The plain report table: one header row, a row per item, an "empty" row, optional totals. */
export function ReportTable<R>(props: { testId: string; class?: string; columns: ReportColumn<R>[]; rows: R[]; rowKey: (row: R) => string; rowClass?: (row: R) => string }) {
  const { columns } = props;
  const num = (c: ReportColumn<R>) => (c.num ? 'num' : undefined);
  return (
    <div class="table-wrap">
      <table class={props.class} data-testid={props.testId}>
        <thead>
          <tr>
            {columns.map((c, i) => (
              <th key={i} class={num(c)}>
                {c.title}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((r) => (
            <tr key={props.rowKey(r)} class={props.rowClass?.(r)}>
              {columns.map((c, i) => (
                <td key={i} {...(c.td ? c.td(r) : { class: num(c) })}>
                  {c.cell(r)}
                </td>
              ))}
            </tr>
          ))}
          {props.rows.length === 0 && (
            <tr>
              <td class="empty" colSpan={columns.length}>
                {t('common.empty')}
              </td>
            </tr>
          )}
        </tbody>
        {columns.some((c) => c.foot !== undefined) && (
          <tfoot>
            <tr>
              {columns.map((c, i) => (
                <th key={i} class={num(c)}>
                  {c.foot}
                </th>
              ))}
            </tr>
          </tfoot>
        )}
      </table>
    </div>
  );
}

/** The error or "loading" line of a report, then its body once data has arrived (kept on screen while a newer query loads). */
export function ReportBody<T>(props: { report: ReportResult<T>; children: (data: T) => ComponentChildren }) {
  const { data, error, loading } = props.report;
  return (
    <>
      <ReportState error={error} loading={loading && !data} />
      {data && props.children(data)}
    </>
  );
}
