import Papa from 'papaparse';
import { toYuanString, type Fen } from '../../lib/money.js';
import { AppError } from '../../lib/errors.js';

/**
 * An agent's statement: every ledger entry of its accounts in a period, with
 * opening, running and closing balances per account. Pure: the service reads
 * the rows, this computes and renders them (JSON, CSV, XLSX).
 *
 * Days are China Standard Time (UTC+8): "2026-01-31" is the day an agent in
 * China calls the 31st.
 */
export const STATEMENT_UTC_OFFSET_MS = 8 * 3600_000;
export const MAX_STATEMENT_DAYS = 366;
export const statementFormats = ['json', 'csv', 'xlsx'] as const;
export type StatementFormat = (typeof statementFormats)[number];

/** [start, end) instants of a from..to range of whole days (inclusive), checked. */
export function statementPeriod(from: string, to: string): { start: Date; end: Date } {
  const day = (field: string, v: string) => {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
    const at = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : Number.NaN;
    if (!m || Number.isNaN(at) || new Date(at).toISOString().slice(0, 10) !== v) throw new AppError('VALIDATION_FAILED', `${field}: not a date (YYYY-MM-DD)`, [{ field, message: 'not a date (YYYY-MM-DD)' }]);
    return at - STATEMENT_UTC_OFFSET_MS;
  };
  const start = day('from', from);
  const end = day('to', to) + 86_400_000;
  if (end <= start) throw new AppError('VALIDATION_FAILED', 'to: must not be before from', [{ field: 'to', message: 'before from' }]);
  if ((end - start) / 86_400_000 > MAX_STATEMENT_DAYS) throw new AppError('VALIDATION_FAILED', `to: a statement covers at most ${MAX_STATEMENT_DAYS} days`, [{ field: 'to', message: `at most ${MAX_STATEMENT_DAYS} days` }]);
  return { start: new Date(start), end: new Date(end) };
}

export interface StatementEntryRow {
  entryId: number;
  at: Date;
  accountId: string;
  amountFen: Fen;
  transactionId: string;
  kind: string;
  refType: string | null;
  refId: string | null;
  memo: string | null;
}

export interface StatementAccount {
  account: string;
  kind: string;
  opening_fen: number;
  opening_yuan: string;
  credits_fen: number;
  debits_fen: number;
  closing_fen: number;
  closing_yuan: string;
  entries: number;
}

export interface StatementLine {
  at: string;
  account: string;
  transaction_id: string;
  kind: string;
  ref_type: string | null;
  ref_id: string | null;
  memo: string | null;
  amount_fen: number;
  amount_yuan: string;
  balance_fen: number;
  balance_yuan: string;
}

export interface Statement {
  agent_id: string;
  from: string;
  to: string;
  timezone: string;
  currency: 'CNY';
  generated_at: string;
  accounts: StatementAccount[];
  entries: StatementLine[];
}

/** Builds the statement: accounts in the given order, entries grouped by account in ledger order, with running balances. */
export function buildStatement(input: { agentId: string; from: string; to: string; generatedAt: Date; accounts: { id: string; kind: string }[]; openings: Record<string, Fen>; rows: StatementEntryRow[] }): Statement {
  const summaries: StatementAccount[] = [];
  const entries: StatementLine[] = [];
  for (const acct of input.accounts) {
    const opening = input.openings[acct.id] ?? 0;
    let balance = opening;
    let credits = 0;
    let debits = 0;
    const own = input.rows.filter((r) => r.accountId === acct.id).sort((a, b) => a.entryId - b.entryId);
    for (const r of own) {
      balance += r.amountFen;
      if (r.amountFen > 0) credits += r.amountFen;
      else debits += r.amountFen;
      entries.push({ at: r.at.toISOString(), account: acct.kind, transaction_id: r.transactionId, kind: r.kind, ref_type: r.refType, ref_id: r.refId, memo: r.memo, amount_fen: r.amountFen, amount_yuan: toYuanString(r.amountFen), balance_fen: balance, balance_yuan: toYuanString(balance) });
    }
    summaries.push({ account: acct.kind, kind: acct.kind, opening_fen: opening, opening_yuan: toYuanString(opening), credits_fen: credits, debits_fen: debits, closing_fen: balance, closing_yuan: toYuanString(balance), entries: own.length });
  }
  return { agent_id: input.agentId, from: input.from, to: input.to, timezone: 'UTC+08:00', currency: 'CNY', generated_at: input.generatedAt.toISOString(), accounts: summaries, entries };
}

const COLUMNS = ['account', 'at', 'transaction_id', 'kind', 'ref_type', 'ref_id', 'memo', 'amount_yuan', 'amount_fen', 'balance_yuan', 'balance_fen'] as const;

/** Rows of the CSV and of the XLSX entries sheet: per account an opening row, its entries, a closing row. */
function tableRows(s: Statement): (string | number)[][] {
  const rows: (string | number)[][] = [];
  for (const a of s.accounts) {
    rows.push([a.account, `${s.from}`, '', 'opening_balance', '', '', '', '', '', a.opening_yuan, a.opening_fen]);
    for (const e of s.entries.filter((x) => x.account === a.account)) {
      rows.push([a.account, e.at, e.transaction_id, e.kind, e.ref_type ?? '', e.ref_id ?? '', e.memo ?? '', e.amount_yuan, e.amount_fen, e.balance_yuan, e.balance_fen]);
    }
    rows.push([a.account, `${s.to}`, '', 'closing_balance', '', '', '', toYuanString(a.credits_fen + a.debits_fen), a.credits_fen + a.debits_fen, a.closing_yuan, a.closing_fen]);
  }
  return rows;
}

/** CSV (UTF-8 with BOM so Excel opens Chinese text right); cells that look like formulas are neutralised. */
export function statementCsv(s: Statement): string {
  return `\uFEFF${Papa.unparse({ fields: [...COLUMNS], data: tableRows(s) }, { escapeFormulae: true, newline: '\r\n' })}\r\n`;
}

/** XLSX: a summary sheet and an entries sheet; yuan as numbers formatted 0.00, fen as integers. */
export async function statementXlsx(s: Statement): Promise<Buffer> {
  // exceljs is large: loaded on the first XLSX statement, not at start-up.
  const { default: Excel } = await import('exceljs');
  const wb = new Excel.Workbook();
  wb.created = new Date(s.generated_at);
  const summary = wb.addWorksheet('Summary');
  summary.addRow(['agent_id', s.agent_id]);
  summary.addRow(['from', s.from]);
  summary.addRow(['to', s.to]);
  summary.addRow(['timezone', s.timezone]);
  summary.addRow(['currency', s.currency]);
  summary.addRow([]);
  summary.addRow(['account', 'opening_yuan', 'opening_fen', 'credits_fen', 'debits_fen', 'closing_yuan', 'closing_fen', 'entries']);
  for (const a of s.accounts) {
    const row = summary.addRow([a.account, a.opening_fen / 100, a.opening_fen, a.credits_fen, a.debits_fen, a.closing_fen / 100, a.closing_fen, a.entries]);
    row.getCell(2).numFmt = '0.00';
    row.getCell(6).numFmt = '0.00';
  }
  const sheet = wb.addWorksheet('Entries');
  sheet.addRow([...COLUMNS]);
  for (const r of tableRows(s)) {
    // Yuan columns as numbers (Excel sums them); the fen columns stay exact integers.
    const cells = r.map((v, i) => (COLUMNS[i] === 'amount_yuan' || COLUMNS[i] === 'balance_yuan' ? (v === '' ? '' : Number(v)) : v));
    const row = sheet.addRow(cells);
    row.getCell(8).numFmt = '0.00';
    row.getCell(10).numFmt = '0.00';
  }
  return Buffer.from(await wb.xlsx.writeBuffer());
}
