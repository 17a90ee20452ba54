/** Integer fen as yuan: 123456 -> "¥1,234.56". */
export function formatFen(fen: number | null | undefined): string {
  if (fen === null || fen === undefined || Number.isNaN(fen)) return '—';
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(Math.trunc(fen));
  const yuan = Math.floor(abs / 100).toLocaleString('en-US');
  return `${sign}¥${yuan}.${String(abs % 100).padStart(2, '0')}`;
}

export function Money(props: { fen: number | null | undefined }) {
  return <span class={`money${(props.fen ?? 0) < 0 ? ' negative' : ''}`}>{formatFen(props.fen)}</span>;
}
