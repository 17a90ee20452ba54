export { DataTable, TableView, type Column, type Filter, type Row } from './DataTable';
export { Form, Field } from './Form';
export { Modal } from './Modal';
export { ConfirmButton } from './ConfirmButton';
export { ProgressBar } from './ProgressBar';
export { Money, formatFen } from './Money';
export { Badge, type BadgeTone } from './Badge';
export { Chart, type ChartSeries } from './Chart';
export { downloadCsv, downloadXlsx, toCsv, type ExportColumn } from './export';
