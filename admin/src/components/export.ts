/** Turns rows into a downloadable CSV or XLSX file in the browser. */
export interface ExportColumn<R = Record<string, unknown>> {
  title: string;
  value: (row: R) => unknown;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function toCsv<R>(columns: ExportColumn<R>[], rows: R[]): string {
  const esc = (v: unknown) => {
    const s = cell(v);
    // Text starting with =,+,-,@ would run as a formula in a spreadsheet: neutralise it (plain numbers stay numbers).
    const safe = typeof v === 'string' && /^[=+\-@\t\r]/.test(s) && !/^[-+]?\d+(\.\d+)?$/.test(s) ? `'${s}` : s;
    return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  const lines = [columns.map((c) => esc(c.title)).join(',')];
  for (const row of rows) lines.push(columns.map((c) => esc(c.value(row))).join(','));
  // BOM: Excel opens UTF-8 Chinese text correctly only with it.
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}

function download(name: string, blob: Blob) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function downloadCsv<R>(name: string, columns: ExportColumn<R>[], rows: R[]) {
  download(`${name}.csv`, new Blob([toCsv(columns, rows)], { type: 'text/csv;charset=utf-8' }));
}

export async function downloadXlsx<R>(name: string, columns: ExportColumn<R>[], rows: R[]) {
  // exceljs is large: loaded only when someone exports.
  const { Workbook } = (await import('exceljs')).default;
  const wb = new Workbook();
  const ws = wb.addWorksheet(name.slice(0, 31));
  ws.addRow(columns.map((c) => c.title)).font = { bold: true };
  for (const row of rows) {
    ws.addRow(
      columns.map((c) => {
        const v = c.value(row);
        return typeof v === 'number' || typeof v === 'boolean' ? v : cell(v);
      }),
    );
  }
  const buf = await wb.xlsx.writeBuffer();
  download(`${name}.xlsx`, new Blob([buf], { type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' }));
}
